package archive

import (
	"bytes"
	"compress/flate"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strings"
)

// SlideType is a kind of slide deck salon accepts, recognised by content.
type SlideType struct {
	MediaType string
	Ext       string // with the dot, lower case: the extension stored names end with
	Label     string // for people: "PDF"
}

// The slide types salon keeps. Only PDFs are rendered in the browser; the
// others are kept as files to download.
var (
	SlidePDF     = SlideType{"application/pdf", ".pdf", "PDF"}
	SlidePPTX    = SlideType{"application/vnd.openxmlformats-officedocument.presentationml.presentation", ".pptx", "PowerPoint"}
	SlideODP     = SlideType{"application/vnd.oasis.opendocument.presentation", ".odp", "OpenDocument presentation"}
	SlideKeynote = SlideType{"application/vnd.apple.keynote", ".key", "Keynote"}
)

var slideTypes = []SlideType{SlidePDF, SlidePPTX, SlideODP, SlideKeynote}

// slideTypeOf finds a type by media type.
func slideTypeOf(mediaType string) (SlideType, bool) {
	for _, st := range slideTypes {
		if st.MediaType == mediaType {
			return st, true
		}
	}
	return SlideType{}, false
}

// ErrUnsupportedType is returned (wrapped) for an upload whose content is not
// a slide deck salon keeps: 415.
var ErrUnsupportedType = errors.New("unsupported file type")

// ErrEmpty is returned (wrapped, with ErrInvalid) for an empty upload.
var ErrEmpty = errors.New("empty file")

// sniffSteps are how many leading bytes sniffSlide reads before it gives up:
// most decks are decided by the first, a zip whose telling entries come late
// needs more. The last step bounds the memory one upload holds.
var sniffSteps = []int{4 << 10, 64 << 10, 1 << 20}

// sniffSlide reads the first bytes of r and tells which slide type they
// start. It returns the bytes it read (they must be stored before the rest
// of r). Decided by content only:
//   - PDF: "%PDF-" at the first byte;
//   - ODF: a zip whose first entry is "mimetype", stored uncompressed,
//     holding application/vnd.oasis.opendocument.presentation;
//   - OOXML: a zip with a [Content_Types].xml that declares a
//     presentationml main part;
//   - Keynote: a zip with entries below Index/ (Index/Document.iwa).
//
// An empty r is ErrEmpty; anything else ErrUnsupportedType.
func sniffSlide(r io.Reader) (SlideType, []byte, error) {
	var head []byte
	for _, n := range sniffSteps {
		more := make([]byte, n-len(head))
		m, err := io.ReadFull(r, more)
		head = append(head, more[:m]...)
		eof := err == io.EOF || err == io.ErrUnexpectedEOF
		if err != nil && !eof {
			return SlideType{}, head, fmt.Errorf("read the upload: %w", err)
		}
		if len(head) == 0 {
			return SlideType{}, head, fmt.Errorf("the file is empty: %w: %w", ErrEmpty, ErrInvalid)
		}
		st, decided := sniffHead(head, eof)
		if decided {
			if st.MediaType == "" {
				return st, head, unsupported()
			}
			return st, head, nil
		}
		if eof {
			break
		}
	}
	return SlideType{}, head, unsupported()
}

func unsupported() error {
	return fmt.Errorf("the file is not a PDF, PowerPoint (.pptx), OpenDocument (.odp) or Keynote (.key) deck: %w", ErrUnsupportedType)
}

// sniffHead decides on the leading bytes of a file; complete tells that
// head is the whole file. decided is false when more bytes could decide.
// An undecided or refused head returns a zero SlideType.
func sniffHead(head []byte, complete bool) (_ SlideType, decided bool) {
	if bytes.HasPrefix(head, []byte("%PDF-")) {
		return SlidePDF, true
	}
	if !bytes.HasPrefix(head, []byte("PK\x03\x04")) {
		return SlideType{}, len(head) >= 5 || complete
	}
	z := zipWalker{b: head}
	first := true
	for {
		e, ok := z.next()
		if !ok {
			// The walk stopped at the end of what was read (more may
			// decide) or at something it cannot step over (it will not).
			return SlideType{}, complete || !z.short
		}
		switch {
		case first && e.name == "mimetype":
			if e.method == 0 && strings.HasPrefix(string(e.data), SlideODP.MediaType) {
				return SlideODP, true
			}
			return SlideType{}, true // another ODF kind (a text, a sheet)
		case e.name == "[Content_Types].xml":
			xml, err := e.content(64 << 10)
			if err != nil {
				return SlideType{}, true
			}
			if bytes.Contains(xml, []byte("presentationml")) {
				return SlidePPTX, true
			}
			return SlideType{}, true // a Word or Excel file
		case strings.HasPrefix(e.name, "Index/"):
			return SlideKeynote, true
		}
		first = false
	}
}

// zipEntry is one local file entry of a zip.
type zipEntry struct {
	name   string
	method uint16
	data   []byte // the stored (possibly compressed) bytes
}

// content returns the entry's uncompressed bytes, at most limit.
func (e zipEntry) content(limit int64) ([]byte, error) {
	switch e.method {
	case 0:
		return e.data, nil
	case 8:
		fr := flate.NewReader(bytes.NewReader(e.data))
		defer fr.Close()
		b, err := io.ReadAll(io.LimitReader(fr, limit))
		if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) {
			return b, err
		}
		return b, nil
	}
	return nil, fmt.Errorf("zip method %d", e.method)
}

// zipWalker steps through the local file headers at the start of a zip
// without its central directory (which is at the end, not yet uploaded).
// It steps over an entry whose size the header gives, and over a deflated
// entry that announces a data descriptor by inflating it to find its end.
type zipWalker struct {
	b     []byte
	off   int
	short bool // stopped because head ended: more bytes may go further
}

const (
	// maxInflate bounds what the walker inflates to step over one entry,
	// so that a zip bomb in the first megabyte costs little.
	maxInflate = 16 << 20

	zipLocalHeaderLen = 30
	zipFlagDescriptor = 0x8
)

func (z *zipWalker) next() (zipEntry, bool) {
	b := z.b[z.off:]
	if len(b) < zipLocalHeaderLen {
		z.short = true
		return zipEntry{}, false
	}
	if !bytes.HasPrefix(b, []byte("PK\x03\x04")) {
		return zipEntry{}, false // the central directory, or garbage
	}
	le := binary.LittleEndian
	flags, method := le.Uint16(b[6:]), le.Uint16(b[8:])
	csize := int(le.Uint32(b[18:]))
	nameLen, extraLen := int(le.Uint16(b[26:])), int(le.Uint16(b[28:]))
	start := zipLocalHeaderLen + nameLen + extraLen
	if len(b) < start {
		z.short = true
		return zipEntry{}, false
	}
	e := zipEntry{name: string(b[zipLocalHeaderLen : zipLocalHeaderLen+nameLen]), method: method}
	if flags&zipFlagDescriptor == 0 && csize != 0xFFFFFFFF {
		if len(b) < start+csize {
			z.short = true
			// The name alone may decide (Keynote); give the partial data.
			e.data = b[start:]
			if strings.HasPrefix(e.name, "Index/") {
				z.off = len(z.b)
				return e, true
			}
			return zipEntry{}, false
		}
		e.data = b[start : start+csize]
		z.off += start + csize
		return e, true
	}
	if method != 8 {
		return zipEntry{}, false // stored with a data descriptor: no way to find its end
	}
	// Inflate to find where the deflate stream ends; bytes.Reader is a
	// ByteReader, so flate reads no further than the stream.
	br := bytes.NewReader(b[start:])
	fr := flate.NewReader(br)
	n, err := io.CopyN(io.Discard, fr, maxInflate+1)
	fr.Close()
	if err == io.EOF {
		err = nil
	}
	if err != nil || n > maxInflate {
		z.short = errors.Is(err, io.ErrUnexpectedEOF)
		return zipEntry{}, false
	}
	used := len(b[start:]) - br.Len()
	e.data = b[start : start+used]
	end := start + used
	// The data descriptor: optional signature, CRC-32, sizes (4 or 8 bytes each).
	desc := 12
	if rest := b[end:]; len(rest) >= 4 && bytes.HasPrefix(rest, []byte("PK\x07\x08")) {
		desc = 16
	}
	if len(b) < end+desc {
		z.short = true
		z.off = len(z.b) // the next call stops: this entry was the last one read
		return e, true
	}
	// A zip64 descriptor has 8-byte sizes; the next header's signature tells.
	if rest := b[end+desc:]; !bytes.HasPrefix(rest, []byte("PK")) && len(b) >= end+desc+8 &&
		bytes.HasPrefix(b[end+desc+8:], []byte("PK")) {
		desc += 8
	}
	z.off += end + desc
	return e, true
}
