//go:build !unix

package bench

// raiseFileLimit: Windows has no per-process open-files limit to raise;
// 1<<20 stands for "no limit that matters".
func raiseFileLimit() (uint64, error) { return 1 << 20, nil }
