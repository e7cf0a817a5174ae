package keying

import (
	"bytes"
	"testing"

	"github.com/conclave-go/conclave/internal/mlsenc"
)

// TestTranscriptInputIsCommitWithoutTag: what the confirmed transcript
// hash covers is the commit's encoding up to its confirmation tag (RFC
// 9420 §8.2: the content and its signature).
func TestTranscriptInputIsCommitWithoutTag(t *testing.T) {
	s := suite1(t)
	gs := smallGroup(t, s, 4, 50)
	res, err := gs[1].Commit([]Proposal{{Type: ProposalRemove, Removed: 3}}, nil, detRand(51))
	if err != nil {
		t.Fatal(err)
	}
	c := res.Commit
	content, err := c.content()
	if err != nil {
		t.Fatal(err)
	}
	input, err := c.transcriptInput(content)
	if err != nil {
		t.Fatal(err)
	}
	enc, err := c.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	w := mlsenc.NewWriter(nil)
	w.Opaque(c.ConfirmationTag)
	tag, err := w.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(append(bytes.Clone(input), tag...), enc) {
		t.Fatal("the transcript input is not the commit's encoding without its confirmation tag")
	}
}
