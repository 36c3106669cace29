// Package nodes holds the tests of salon deployments of several nodes run
// as processes (package nodetest): a node killed under chat load, the
// ingest node lost while a publisher streams. It has no code of its own;
// go test runs it in parallel with cmd/salon's in-process tests.
package nodes
