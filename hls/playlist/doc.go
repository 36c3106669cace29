// Package playlist owns salon's HLS playlist format: the model of a media
// playlist (RFC 8216 and the Low-Latency HLS tags of RFC 8216bis) and of a
// multivariant playlist, the one writer and the one parser. Every playlist
// salon writes — the live window, a run's playlist in the bucket, a talk's
// replay cut, multivariant playlists — is written by Media.Append or
// Multivariant.Append, and every playlist salon reads back (the bucket, the
// load tool, the test checker) is read by ParseMedia or ParseMultivariant.
//
// The parser is lenient, as a player is: unknown tags and attributes are
// ignored, tags that RFC 8216 allows only once may repeat (the last one
// wins), and what it tolerated is reported by ParseMediaDeviations so that a
// strict checker (hls/hlscheck) can refuse it. It returns an error, naming the
// line, only for what it cannot read: a value that does not parse, a segment
// URI with no EXTINF, a tag whose meaning the model cannot hold
// (EXT-X-BYTERANGE, EXT-X-KEY with encryption).
//
// # Why a writer of its own
//
// The writer is written by hand rather than with grafov/m3u8 or gohlslib's
// pkg/playlist, after reading both (grafov/m3u8 v0.12.1, gohlslib v2.4.4):
//
//   - grafov/m3u8 has no Low-Latency tags. Custom tags exist, but playlist
//     custom tags are kept in a map (their order changes between renders) and
//     are written right after EXT-X-VERSION, and nothing can be written after
//     the last segment, where EXT-X-PART of the segment in progress,
//     EXT-X-PRELOAD-HINT and EXT-X-RENDITION-REPORT belong. It also writes
//     EXT-X-ALLOW-CACHE (removed in version 7) into EVENT playlists and builds
//     every line with fmt and a bytes.Buffer of its own.
//   - gohlslib's model has one EXT-X-MAP per playlist, while salon's live and
//     replay playlists change EXT-X-MAP after a discontinuity (a new publish
//     with other codec parameters); its writer concatenates strings per line,
//     writes durations with five decimals and an empty first attribute in
//     EXT-X-SERVER-CONTROL when CAN-BLOCK-RELOAD is off.
//
// The live path renders a playlist several times a second per stage once
// parts are on (each part changes it), so the writer appends into the
// caller's buffer with no allocation and no fmt per line: see
// BenchmarkMedia_Append. gohlslib's parser stays in the tests as an
// independent reader of every Low-Latency playlist the writer makes, and
// ffprobe as one of playlists over real segments.
//
// Output conventions: durations (EXTINF, EXT-X-PART DURATION, PART-TARGET,
// the SERVER-CONTROL hold backs) are written in seconds with exactly three
// decimals, rounded to the millisecond; EXT-X-PROGRAM-DATE-TIME is UTC with
// milliseconds ("2019-04-21T01:30:00.000Z"). Equal input gives equal bytes.
package playlist
