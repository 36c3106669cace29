package bench

import (
	"bytes"
	"math/bits"
	"strconv"
	"time"
)

// latencyHist counts latencies in log-linear buckets of microseconds: exact
// below 16 µs, then 16 buckets per power of two, so a bucket's upper bound
// overstates a value by at most 1/16 (6.25 %). One per chat viewer, so
// recording needs no lock; merged at the end. 2.2 KB each.
type latencyHist struct {
	counts [histBuckets]uint32
	n      uint64
	max    time.Duration
}

const (
	histSub     = 16 // sub-buckets per power of two
	histMaxBit  = 36 // values ≥ 2^37 µs (38 h) land in the last bucket
	histBuckets = (histMaxBit-3)*histSub + histSub
)

func histBucket(us uint64) int {
	if us < histSub {
		return int(us)
	}
	p := bits.Len64(us) - 1 // ≥ 4
	if p > histMaxBit {
		return histBuckets - 1
	}
	sub := int(us>>(p-4)) & (histSub - 1)
	return (p-3)*histSub + sub
}

// histUpper is the largest value (µs) that falls in bucket b.
func histUpper(b int) uint64 {
	if b < histSub {
		return uint64(b)
	}
	p := b/histSub + 3
	sub := uint64(b % histSub)
	return ((histSub+sub)<<(p-4) + 1<<(p-4)) - 1
}

func (h *latencyHist) add(d time.Duration) {
	if d < 0 {
		d = 0
	}
	h.counts[histBucket(uint64(d/time.Microsecond))]++
	h.n++
	h.max = max(h.max, d)
}

func (h *latencyHist) merge(o *latencyHist) {
	for i, c := range o.counts {
		h.counts[i] += c
	}
	h.n += o.n
	h.max = max(h.max, o.max)
}

// quantile returns the upper bound of the bucket holding the q-quantile
// (nearest rank), capped at the largest value seen; 0 when empty.
func (h *latencyHist) quantile(q float64) time.Duration {
	if h.n == 0 {
		return 0
	}
	rank := uint64(q*float64(h.n) + 0.999999)
	rank = max(1, min(rank, h.n))
	var cum uint64
	for b, c := range h.counts {
		cum += uint64(c)
		if cum >= rank {
			return min(time.Duration(histUpper(b))*time.Microsecond, h.max)
		}
	}
	return h.max
}

func (h *latencyHist) percentiles() Percentiles {
	return Percentiles{
		Count: int(h.n),
		P50:   ms(h.quantile(0.50)),
		P90:   ms(h.quantile(0.90)),
		P99:   ms(h.quantile(0.99)),
		Max:   ms(h.max),
	}
}

// Chat messages the load tool sends carry their own identity and send time in
// the text: "bench ID STAMP", ID numbering messages 0, 1, 2… across all
// senders and STAMP the send time in nanoseconds since the run began (the
// tool's monotonic clock, so only the tool can read it back).
const stampPrefix = "bench "

func stampText(id uint64, stamp int64) string {
	return stampPrefix + strconv.FormatUint(id, 10) + " " + strconv.FormatInt(stamp, 10)
}

// frameKind is the "type" of a server frame. The hub encodes Go structs whose
// first field is the type, so the prefix says it without decoding JSON: the
// tool reads hundreds of thousands of frames a second.
func frameKind(frame []byte) string {
	const p = `{"type":"`
	if !bytes.HasPrefix(frame, []byte(p)) {
		return ""
	}
	rest := frame[len(p):]
	end := bytes.IndexByte(rest, '"')
	if end < 0 || end > 16 {
		return ""
	}
	return string(rest[:end])
}

var textStamp = []byte(`"text":"` + stampPrefix)

// parseStamp finds the load tool's stamp in a chat frame's text.
func parseStamp(frame []byte) (id uint64, stamp int64, ok bool) {
	i := bytes.Index(frame, textStamp)
	if i < 0 {
		return 0, 0, false
	}
	rest := frame[i+len(textStamp):]
	sp := bytes.IndexByte(rest, ' ')
	if sp <= 0 {
		return 0, 0, false
	}
	id, err := strconv.ParseUint(string(rest[:sp]), 10, 64)
	if err != nil {
		return 0, 0, false
	}
	rest = rest[sp+1:]
	q := bytes.IndexByte(rest, '"')
	if q <= 0 {
		return 0, 0, false
	}
	stamp, err = strconv.ParseInt(string(rest[:q]), 10, 64)
	if err != nil || stamp < 0 {
		return 0, 0, false
	}
	return id, stamp, true
}

// bitset marks the message ids one viewer received.
type bitset []uint64

func newBitset(n int) bitset { return make(bitset, (n+63)/64) }

// set marks i and says whether it was already marked; ids beyond the set are
// ignored (reported as already marked, so they count as duplicates, never as
// deliveries of a message the tool did not send).
func (b bitset) set(i uint64) (dup bool) {
	w := i / 64
	if w >= uint64(len(b)) {
		return true
	}
	m := uint64(1) << (i % 64)
	dup = b[w]&m != 0
	b[w] |= m
	return dup
}

func (b bitset) has(i uint64) bool {
	w := i / 64
	return w < uint64(len(b)) && b[w]&(1<<(i%64)) != 0
}

func (b bitset) or(o bitset) {
	for i := range b {
		if i < len(o) {
			b[i] |= o[i]
		}
	}
}

// lossFor counts the messages a viewer should have received and those it
// missed. sent holds each message's send stamp; accepted marks the messages
// the server broadcast (some viewer received them: refused ones never reach
// anyone). A viewer owes every accepted message sent at or after it joined
// (its welcome arrived: the hub registers a viewer before queuing its welcome)
// and, when it left early (left > 0), before it left.
func lossFor(recv, accepted bitset, sent []int64, joined, left int64) (expected, lost int64) {
	for id, st := range sent {
		if st < joined || (left > 0 && st >= left) || !accepted.has(uint64(id)) {
			continue
		}
		expected++
		if !recv.has(uint64(id)) {
			lost++
		}
	}
	return expected, lost
}
