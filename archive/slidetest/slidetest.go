// Package slidetest makes small slide decks for tests: a real PDF that pdf.js
// renders, and zip-based decks (PowerPoint, OpenDocument, Keynote) whose
// structure is what salon's type check reads.
package slidetest

import (
	"archive/zip"
	"bytes"
	"fmt"
	"hash/crc32"
	"strings"
)

// PDF returns a valid PDF of pages pages (A4 landscape-ish, 800×450 pt).
// Page N shows a filled blue rectangle and the text "label N", so a
// renderer's output can be told apart from a blank canvas by colour alone.
func PDF(pages int, label string) []byte { return PaddedPDF(pages, label, 0) }

// PaddedPDF is PDF with an unused stream object of pad bytes in it, for a
// file big enough that an upload shows progress.
func PaddedPDF(pages int, label string, pad int) []byte {
	var b bytes.Buffer
	var offsets []int
	obj := func(body string) {
		offsets = append(offsets, b.Len())
		fmt.Fprintf(&b, "%d 0 obj\n%s\nendobj\n", len(offsets), body)
	}
	b.WriteString("%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
	// 1: catalog, 2: pages, 3: font, then a page and its content per page.
	kids := make([]string, pages)
	for i := range pages {
		kids[i] = fmt.Sprintf("%d 0 R", 4+2*i)
	}
	obj("<< /Type /Catalog /Pages 2 0 R >>")
	obj(fmt.Sprintf("<< /Type /Pages /Kids [%s] /Count %d >>", strings.Join(kids, " "), pages))
	obj("<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>")
	esc := strings.NewReplacer(`\`, `\\`, `(`, `\(`, `)`, `\)`)
	for i := range pages {
		content := fmt.Sprintf("0.1 0.3 0.9 rg 40 40 720 240 re f\nBT /F1 36 Tf 0 0 0 rg 60 360 Td (%s %d) Tj ET\n", esc.Replace(label), i+1)
		obj(fmt.Sprintf("<< /Type /Page /Parent 2 0 R /MediaBox [0 0 800 450] /Resources << /Font << /F1 3 0 R >> >> /Contents %d 0 R >>", 5+2*i))
		obj(fmt.Sprintf("<< /Length %d >>\nstream\n%sendstream", len(content), content))
	}
	if pad > 0 {
		obj(fmt.Sprintf("<< /Length %d >>\nstream\n%sendstream", pad, bytes.Repeat([]byte("0123456789abcde\n"), pad/16+1)[:pad]))
	}
	xref := b.Len()
	fmt.Fprintf(&b, "xref\n0 %d\n0000000000 65535 f \n", len(offsets)+1)
	for _, o := range offsets {
		fmt.Fprintf(&b, "%010d 00000 n \n", o)
	}
	fmt.Fprintf(&b, "trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n", len(offsets)+1, xref)
	return b.Bytes()
}

// PNG is the start of a PNG file: what a .pdf that is really an image holds.
var PNG = []byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89")

// Entry is one file of a zip.
type Entry struct {
	Name   string
	Data   []byte
	Stored bool // uncompressed, with its size in the local header
}

// Zip writes entries in order, as office suites do.
func Zip(entries ...Entry) []byte {
	var b bytes.Buffer
	w := zip.NewWriter(&b)
	for _, e := range entries {
		var f interface{ Write([]byte) (int, error) }
		var err error
		if e.Stored {
			f, err = w.CreateRaw(&zip.FileHeader{Name: e.Name, Method: zip.Store,
				CompressedSize64: uint64(len(e.Data)), UncompressedSize64: uint64(len(e.Data)), CRC32: crc(e.Data)})
		} else {
			f, err = w.Create(e.Name) // deflated, sizes in a data descriptor
		}
		if err != nil {
			panic(err)
		}
		f.Write(e.Data)
	}
	if err := w.Close(); err != nil {
		panic(err)
	}
	return b.Bytes()
}

// PPTX is a minimal PowerPoint file as far as its structure goes.
func PPTX() []byte {
	return Zip(
		Entry{Name: "[Content_Types].xml", Data: []byte(`<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Override PartName="/ppt/presentation.xml" ContentType="application/vnd.openxmlformats-officedocument.presentationml.presentation.main+xml"/></Types>`)},
		Entry{Name: "_rels/.rels", Data: []byte(`<Relationships/>`)},
		Entry{Name: "ppt/presentation.xml", Data: []byte(`<p:presentation/>`)},
	)
}

// DOCX is a Word file: OOXML, but not slides.
func DOCX() []byte {
	return Zip(
		Entry{Name: "[Content_Types].xml", Data: []byte(`<Types><Override PartName="/word/document.xml" ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/></Types>`)},
		Entry{Name: "word/document.xml", Data: []byte(`<w:document/>`)},
	)
}

// ODF is an OpenDocument file of the given media type.
func ODF(mediaType string) []byte {
	return Zip(
		Entry{Name: "mimetype", Data: []byte(mediaType), Stored: true},
		Entry{Name: "content.xml", Data: []byte(`<office:document-content/>`)},
	)
}

// Keynote is a Keynote file: a zip with Index/ entries, after a preview
// image of previewSize bytes (stored, as Keynote stores images).
func Keynote(previewSize int) []byte {
	return Zip(
		Entry{Name: "preview.jpg", Data: bytes.Repeat([]byte{0xff}, previewSize), Stored: true},
		Entry{Name: "Index/Document.iwa", Data: []byte("iwa"), Stored: true},
		Entry{Name: "Index/Slide.iwa", Data: []byte("iwa")},
	)
}

func crc(b []byte) uint32 { return crc32.ChecksumIEEE(b) }
