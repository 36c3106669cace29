package stream

// stageOwners says which node of a deployment ingests each stage (package
// cluster's leases in a NATS key-value bucket). A node claims a stage for
// each publish path it admits (the source and each rendition) and releases
// it when that publish ends; the claims of one node count up and down, and
// the stage is free for other nodes when the last one is released, or
// when the node is lost and its lease expires.
type stageOwners interface {
	// Claim takes the stage for this node, or fails with an error wrapping
	// ErrStageBusy when another node ingests it. It may wait on the network
	// (bounded); the registry's lock is not held.
	Claim(stage string) error
	// Release gives back one claim; it does not block.
	Release(stage string)
}
