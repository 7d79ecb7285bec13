package store

import (
	"context"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	bolt "go.etcd.io/bbolt"

	"github.com/nvm-node/nvm-node/core/asset"
)

var fixtures = []string{"ddo-access.json", "ddo-nft1155.json", "ddo-nft721.json"}

func fixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func fixtureDDO(t testing.TB, name string) *asset.DDO {
	t.Helper()
	d, err := asset.DecodeDDO(fixture(t, name))
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// synthDDO builds a small valid DDO numbered n, owned by owner.
func synthDDO(t testing.TB, n int, owner, name, created string) *asset.DDO {
	t.Helper()
	id := fmt.Sprintf("did:nv:%064x", n+1)
	doc := fmt.Sprintf(`{"@context":"https://w3id.org/did/v1","id":%q,"created":%q,"publicKey":[{"id":%q,"type":"EthereumECDSAKey","owner":%q}],`+
		`"service":[{"type":"metadata","index":0,"attributes":{"main":{"name":%q,"type":"dataset","files":[]},"curation":{"isListed":true}}},`+
		`{"type":"access","index":1,"attributes":{"main":{"price":"%d"},"additionalInformation":{"priceHighestDenomination":%d}}}]}`,
		id, created, id, owner, name, n*10, n)
	d, err := asset.DecodeDDO([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func openStore(t testing.TB, opts Options) (*Store, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "metadata.db")
	s, err := Open(path, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s, path
}

func mustCreate(t testing.TB, s *Store, docs ...*asset.DDO) {
	t.Helper()
	for _, d := range docs {
		if err := s.Create(context.Background(), d); err != nil {
			t.Fatal(err)
		}
	}
}

const owner1 = "0x90F8bf6A479f320ead074411a4B0e7944Ea8c9C1"
const owner2 = "0xFFcf8FDEE72ac11b5c542428B35EEF5769C409f0"

func lower(s string) string { return strings.ToLower(s) }

// fill stores n synthetic DDOs in one transaction (one fsync instead of n),
// laid out as Create lays them out.
func fill(t testing.TB, s *Store, n int) {
	t.Helper()
	err := s.db.Update(func(tx *bolt.Tx) error {
		seqs, ddos := tx.Bucket(bucketSeq), tx.Bucket(bucketDDO)
		for i := range n {
			d := synthDDO(t, 1_000_000+i, owner1, "filler", "2026-01-01T00:00:00Z")
			k, err := seqs.NextSequence()
			if err != nil {
				return err
			}
			var seq [8]byte
			binary.BigEndian.PutUint64(seq[:], k)
			if err := seqs.Put(seq[:], d.ID[:]); err != nil {
				return err
			}
			if err := ddos.Put(d.ID[:], append(seq[:], d.Raw()...)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
