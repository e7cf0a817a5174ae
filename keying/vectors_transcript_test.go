package keying

import (
	"bytes"
	"testing"

	"github.com/conclave-go/conclave/crypto"
	"github.com/conclave-go/conclave/internal/mlsenc"
)

// splitConfirmationTag splits an encoded AuthenticatedContent carrying a
// commit into its ConfirmedTranscriptHashInput (everything before the
// confirmation tag) and the tag. What is parsed: wire_format, and of
// FramedContent the group id, epoch, sender, authenticated data and content
// type, which must be commit. The Commit body and the signature are not
// parsed (commits belong to the ratchet tree's code): the confirmation tag
// is the last field, an opaque<V> of exactly the suite's hash size, so it is
// taken from the end and its length header checked.
func splitConfirmationTag(t *testing.T, s *crypto.Suite, ac []byte) (input, tag []byte) {
	t.Helper()
	r := mlsenc.NewReader(ac)
	if wf := r.Uint16(); wf != 1 && wf != 2 {
		t.Fatalf("wire format %d", wf)
	}
	r.Opaque(MaxGroupIDLen)
	r.Uint64()
	switch senderType := r.Uint8(); senderType {
	case 1, 2: // member: leaf_index; external: sender_index
		r.Uint32()
	case 3, 4: // new_member_proposal, new_member_commit
	default:
		t.Fatalf("sender type %d", senderType)
	}
	r.Opaque(1 << 20)
	if ct := r.Uint8(); ct != 3 || r.Err() != nil {
		t.Fatalf("content type %d, err %v: not a commit", ct, r.Err())
	}
	hdr, _ := mlsenc.AppendVarint(nil, uint64(s.HashSize()))
	n := len(hdr) + s.HashSize()
	if r.Len() < n {
		t.Fatal("no room for a confirmation tag")
	}
	tagField := ac[len(ac)-n:]
	if !bytes.Equal(tagField[:len(hdr)], hdr) {
		t.Fatalf("confirmation tag header %x, want %x", tagField[:len(hdr)], hdr)
	}
	return ac[:len(ac)-n], tagField[len(hdr):]
}

// TestVectorsTranscriptHashes runs transcript-hashes.json: the confirmation
// tag in the authenticated content is the MAC of the confirmed transcript
// hash, and both hashes follow from the interim hash before.
func TestVectorsTranscriptHashes(t *testing.T) {
	var cases []struct {
		CipherSuite    uint16 `json:"cipher_suite"`
		ConfirmationKy vhex   `json:"confirmation_key"`
		AuthContent    vhex   `json:"authenticated_content"`
		InterimBefore  vhex   `json:"interim_transcript_hash_before"`
		ConfirmedAfter vhex   `json:"confirmed_transcript_hash_after"`
		InterimAfter   vhex   `json:"interim_transcript_hash_after"`
	}
	readMLSVectors(t, "transcript-hashes.json", &cases)
	tally := newVectorTally(t, "transcript-hashes.json")
	for _, c := range cases {
		s, ok := tally.suite(c.CipherSuite)
		if !ok {
			continue
		}
		t.Run(s.String(), func(t *testing.T) {
			input, tag := splitConfirmationTag(t, s, c.AuthContent)
			confirmed := ConfirmedTranscriptHash(s, c.InterimBefore, input)
			if !bytes.Equal(confirmed, c.ConfirmedAfter) {
				t.Errorf("confirmed transcript hash differs")
			}
			e := &Epoch{suite: s, confirmation: crypto.Secret(c.ConfirmationKy)}
			if !e.VerifyConfirmationTag(c.ConfirmedAfter, tag) {
				t.Errorf("confirmation tag does not verify")
			}
			if !bytes.Equal(e.ConfirmationTag(c.ConfirmedAfter), tag) {
				t.Errorf("confirmation tag differs")
			}
			if got := InterimTranscriptHash(s, confirmed, tag); !bytes.Equal(got, c.InterimAfter) {
				t.Errorf("interim transcript hash differs")
			}
		})
	}
}
