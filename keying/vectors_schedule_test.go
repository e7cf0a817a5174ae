package keying

import (
	"bytes"
	"testing"

	"github.com/conclave-go/conclave/crypto"
)

type keyScheduleVector struct {
	CipherSuite       uint16 `json:"cipher_suite"`
	GroupID           vhex   `json:"group_id"`
	InitialInitSecret vhex   `json:"initial_init_secret"`
	Epochs            []struct {
		TreeHash                vhex `json:"tree_hash"`
		CommitSecret            vhex `json:"commit_secret"`
		PSKSecret               vhex `json:"psk_secret"`
		ConfirmedTranscriptHash vhex `json:"confirmed_transcript_hash"`
		GroupContext            vhex `json:"group_context"`
		JoinerSecret            vhex `json:"joiner_secret"`
		WelcomeSecret           vhex `json:"welcome_secret"`
		InitSecret              vhex `json:"init_secret"`
		SenderDataSecret        vhex `json:"sender_data_secret"`
		EncryptionSecret        vhex `json:"encryption_secret"`
		ExporterSecret          vhex `json:"exporter_secret"`
		EpochAuthenticator      vhex `json:"epoch_authenticator"`
		ExternalSecret          vhex `json:"external_secret"`
		ConfirmationKey         vhex `json:"confirmation_key"`
		MembershipKey           vhex `json:"membership_key"`
		ResumptionPSK           vhex `json:"resumption_psk"`
		ExternalPub             vhex `json:"external_pub"`
		Exporter                struct {
			Label   string `json:"label"`
			Context vhex   `json:"context"`
			Length  int    `json:"length"`
			Secret  vhex   `json:"secret"`
		} `json:"exporter"`
	} `json:"epochs"`
}

// TestVectorsKeySchedule runs key-schedule.json: for every epoch of every
// case, the group context encodes as listed, every secret of the key
// schedule matches, the welcome secret is also reached from the joiner
// secret alone (as a joiner does), the external public key is
// DeriveKeyPair(external_secret), and the exporter gives the listed secret.
func TestVectorsKeySchedule(t *testing.T) {
	var cases []keyScheduleVector
	readMLSVectors(t, "key-schedule.json", &cases)
	tally := newVectorTally(t, "key-schedule.json")
	epochs := 0
	for _, c := range cases {
		s, ok := tally.suite(c.CipherSuite)
		if !ok {
			continue
		}
		t.Run(s.String(), func(t *testing.T) {
			init := crypto.Secret(c.InitialInitSecret)
			for i, v := range c.Epochs {
				epochs++
				gc := GroupContext{
					Suite:                   s.ID(),
					GroupID:                 c.GroupID,
					Epoch:                   uint64(i),
					TreeHash:                v.TreeHash,
					ConfirmedTranscriptHash: v.ConfirmedTranscriptHash,
				}
				enc, err := gc.Bytes()
				if err != nil || !bytes.Equal(enc, v.GroupContext) {
					t.Fatalf("epoch %d: group context %x, %v; want %x", i, enc, err, []byte(v.GroupContext))
				}
				back, err := ParseGroupContext(v.GroupContext)
				if err != nil || !back.Equal(&gc) {
					t.Fatalf("epoch %d: group context does not parse back: %v", i, err)
				}
				e, err := NewEpoch(s, init, crypto.Secret(v.CommitSecret), crypto.Secret(v.PSKSecret), &gc)
				if err != nil {
					t.Fatalf("epoch %d: %v", i, err)
				}
				for _, chk := range []struct {
					name      string
					got, want []byte
				}{
					{"joiner_secret", e.JoinerSecret(), v.JoinerSecret},
					{"welcome_secret", e.WelcomeSecret(), v.WelcomeSecret},
					{"init_secret", e.InitSecret(), v.InitSecret},
					{"sender_data_secret", e.SenderDataSecret(), v.SenderDataSecret},
					{"encryption_secret", e.EncryptionSecret(), v.EncryptionSecret},
					{"exporter_secret", e.ExporterSecret(), v.ExporterSecret},
					{"epoch_authenticator", e.EpochAuthenticator(), v.EpochAuthenticator},
					{"external_secret", e.ExternalSecret(), v.ExternalSecret},
					{"confirmation_key", e.ConfirmationKey(), v.ConfirmationKey},
					{"membership_key", e.MembershipKey(), v.MembershipKey},
					{"resumption_psk", e.ResumptionPSK(), v.ResumptionPSK},
				} {
					if !bytes.Equal(chk.got, chk.want) {
						t.Errorf("epoch %d: %s differs", i, chk.name)
					}
				}
				ws, err := WelcomeSecret(s, crypto.Secret(v.JoinerSecret), crypto.Secret(v.PSKSecret))
				if err != nil || !bytes.Equal(ws, v.WelcomeSecret) {
					t.Errorf("epoch %d: WelcomeSecret from the joiner secret differs (%v)", i, err)
				}
				ext, err := e.ExternalKeyPair()
				if err != nil || !bytes.Equal(ext.PublicKey().Bytes(), v.ExternalPub) {
					t.Errorf("epoch %d: external_pub differs (%v)", i, err)
				}
				x := v.Exporter
				got, err := e.Export(x.Label, x.Context, x.Length)
				if err != nil || !bytes.Equal(got, x.Secret) {
					t.Errorf("epoch %d: exporter differs (%v)", i, err)
				}
				init = e.InitSecret().Clone()
				e.Destroy()
			}
		})
	}
	t.Logf("key-schedule.json: %d epochs checked", epochs)
}
