package cluster

import (
	"bytes"
	"encoding/json"
	"time"
)

// Owner is the value of a stage's ingest lease: which node ingests the
// stage, and where the other nodes fetch its live files from.
//
// In the bucket it is JSON, {"node":…,"url":…,"since":…}; salons before the
// URL was added wrote the node's name alone, which ParseOwner still reads
// (with no URL: their stages cannot be relayed).
type Owner struct {
	Node string `json:"node"`
	// URL is the node's internal HTTP base URL (-node-url), e.g.
	// "http://10.0.0.2:8080"; "" while the node does not know it yet, and
	// from older salons.
	URL string `json:"url,omitempty"`
	// Since is when the node took the stage. A node numbers a stage's
	// segments from its own memory, so the same file name under another
	// claim (another node, or the same one after a restart) may be other
	// bytes: whoever keeps copies keys them by Node and Since.
	Since time.Time `json:"since,omitzero"`
}

// ParseOwner reads a lease value: JSON, or the plain node name older salons
// wrote.
func ParseOwner(v []byte) Owner {
	var o Owner
	if bytes.HasPrefix(v, []byte("{")) && json.Unmarshal(v, &o) == nil && o.Node != "" {
		return o
	}
	return Owner{Node: string(v)}
}

func (o Owner) encode() []byte {
	b, _ := json.Marshal(o) // strings and a time: cannot fail
	return b
}
