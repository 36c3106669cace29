package nodes

import (
	"os"
	"testing"

	"github.com/salon/salon/internal/nodetest"
)

func TestMain(m *testing.M) { os.Exit(nodetest.Main(m)) }

// createTalk is a Setup that creates talk id on stage main.
func createTalk(t *testing.T, id string) func(*nodetest.Node) {
	return func(n *nodetest.Node) {
		t.Helper()
		if code, m := n.API("POST", "/api/talks", `{"id":"`+id+`","title":"`+id+`","stage":"main"}`); code != 201 {
			t.Fatalf("create talk %s: %d %v", id, code, m)
		}
	}
}
