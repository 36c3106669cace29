package nodetest

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os/exec"
	"strings"
	"testing"
)

// netns is a network namespace of the test's own, joined to the host's by
// a veth pair on a /30: a node inside it reaches the host's services only
// through proxies on hostIP, and the test cuts its whole network by taking
// the host's end of the pair down. Linux, as root (CAP_NET_ADMIN).
type netns struct {
	name           string
	hostIP, nodeIP string
	hostIf         string
}

// newNetns creates the namespace, or skips the test saying why it cannot.
func newNetns(t testing.TB) *netns {
	t.Helper()
	var b [3]byte
	rand.Read(b[:])
	id := hex.EncodeToString(b[:])
	// A /30 in 10.200.0.0/14 picked at random: tests running at once
	// almost never meet.
	net3 := fmt.Sprintf("10.%d.%d.%d", 200+int(b[0])%4, b[1], int(b[2])&^3)
	prefix := net3[:strings.LastIndexByte(net3, '.')+1]
	last := int(b[2]) &^ 3
	ns := &netns{
		name:   "salon-" + id,
		hostIP: fmt.Sprintf("%s%d", prefix, last+1),
		nodeIP: fmt.Sprintf("%s%d", prefix, last+2),
		hostIf: "sh" + id,
	}
	if out, err := exec.Command("ip", "netns", "add", ns.name).CombinedOutput(); err != nil {
		t.Skipf("cannot create a network namespace (needs root, or CAP_NET_ADMIN, and iproute2): %v: %s", err, out)
	}
	t.Cleanup(func() {
		exec.Command("ip", "link", "del", ns.hostIf).Run()
		exec.Command("ip", "netns", "del", ns.name).Run()
	})
	nodeIf := "sn" + id
	for _, c := range [][]string{
		{"ip", "link", "add", ns.hostIf, "type", "veth", "peer", "name", nodeIf},
		{"ip", "link", "set", nodeIf, "netns", ns.name},
		{"ip", "addr", "add", ns.hostIP + "/30", "dev", ns.hostIf},
		{"ip", "link", "set", ns.hostIf, "up"},
		{"ip", "netns", "exec", ns.name, "ip", "addr", "add", ns.nodeIP + "/30", "dev", nodeIf},
		{"ip", "netns", "exec", ns.name, "ip", "link", "set", nodeIf, "up"},
		{"ip", "netns", "exec", ns.name, "ip", "link", "set", "lo", "up"},
	} {
		if out, err := exec.Command(c[0], c[1:]...).CombinedOutput(); err != nil {
			t.Fatalf("%s: %v: %s", strings.Join(c, " "), err, out)
		}
	}
	return ns
}

// setLink takes the host's end of the pair up or down.
func (ns *netns) setLink(up bool) error {
	state := "down"
	if up {
		state = "up"
	}
	if out, err := exec.Command("ip", "link", "set", ns.hostIf, state).CombinedOutput(); err != nil {
		return fmt.Errorf("ip link set %s %s: %v: %s", ns.hostIf, state, err, out)
	}
	return nil
}
