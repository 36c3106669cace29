//go:build !unix

package main

// openFileLimit is unknown here: the HTTP budget stays as configured.
func openFileLimit() int { return 0 }
