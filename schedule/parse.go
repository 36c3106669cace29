package schedule

import (
	"bytes"
	"fmt"
	"unicode/utf8"
)

// Parse reads a schedule.json (C3VOC schema) or a schedule.xml (frab),
// recognised by content: the first character after a UTF-8 byte order mark
// and white space is '{' for JSON and '<' for XML. The error is an *Error
// naming the problem and where it is, wrapping ErrTooLarge for a file over
// MaxSize.
func Parse(data []byte) (*Schedule, error) {
	if len(data) > MaxSize {
		return nil, &Error{Msg: fmt.Sprintf("the file is %d bytes; at most %d MB are accepted", len(data), MaxSize>>20), Err: ErrTooLarge}
	}
	body := bytes.TrimPrefix(data, []byte("\xEF\xBB\xBF"))
	body = bytes.TrimLeft(body, " \t\r\n")
	if len(body) == 0 {
		return nil, errorf("", "", "the file is empty; expected pretalx/frab schedule.json or schedule.xml")
	}
	switch body[0] {
	case '{':
		return parseJSON(body)
	case '<':
		return parseXML(body)
	}
	if bytes.HasPrefix(data, []byte("\xFE\xFF")) || bytes.HasPrefix(data, []byte("\xFF\xFE")) {
		return nil, errorf("", "", "the file is UTF-16; save it as UTF-8")
	}
	r, _ := utf8.DecodeRune(body)
	return nil, errorf("", "", "not a schedule: expected pretalx/frab schedule.json (starting with {) or schedule.xml (starting with <), found %q at the start", r)
}
