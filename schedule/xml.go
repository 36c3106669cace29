package schedule

import (
	"bytes"
	"encoding/xml"
	"errors"
	"io"
	"strconv"
	"strings"
)

const formatXML = "schedule.xml"

// xmlNode is one element of the file: salon reads frab's schedule.xml as a
// small tree built token by token, so that the nesting depth is checked as
// each element opens (encoding/xml's Unmarshal would recurse first and
// count later).
type xmlNode struct {
	name     string
	attrs    []xml.Attr
	text     strings.Builder
	children []*xmlNode
	line     int
}

func (n *xmlNode) attr(name string) string {
	for _, a := range n.attrs {
		if a.Name.Local == name {
			return a.Value
		}
	}
	return ""
}

func (n *xmlNode) child(name string) *xmlNode {
	for _, c := range n.children {
		if c.name == name {
			return c
		}
	}
	return nil
}

// childText is the text of the first child called name, "" without one.
func (n *xmlNode) childText(name string) string {
	if c := n.child(name); c != nil {
		return c.text.String()
	}
	return ""
}

// readXMLTree reads the document into a tree, refusing nesting deeper than
// MaxDepth. encoding/xml refuses malformed XML and invalid UTF-8 and never
// expands external entities.
func readXMLTree(data []byte) (*xmlNode, error) {
	dec := xml.NewDecoder(bytes.NewReader(data))
	var stack []*xmlNode
	var root *xmlNode
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			line, _ := dec.InputPos()
			var se *xml.SyntaxError
			if errors.As(err, &se) {
				line = se.Line
			}
			return nil, &Error{Format: formatXML, Where: "line " + strconv.Itoa(line), Msg: "not well-formed XML: " + strings.TrimPrefix(err.Error(), "XML syntax error on line "+strconv.Itoa(line)+": "), Err: err}
		}
		switch t := tok.(type) {
		case xml.StartElement:
			line, _ := dec.InputPos()
			if len(stack) >= MaxDepth {
				return nil, errorf(formatXML, "line "+strconv.Itoa(line), "elements nested deeper than %d levels; a schedule is about 6 deep", MaxDepth)
			}
			n := &xmlNode{name: t.Name.Local, attrs: t.Attr, line: line}
			if len(stack) == 0 {
				if root != nil {
					return nil, errorf(formatXML, "line "+strconv.Itoa(line), "a second root element <%s>", shorten(n.name, 30))
				}
				root = n
			} else {
				p := stack[len(stack)-1]
				p.children = append(p.children, n)
			}
			stack = append(stack, n)
		case xml.EndElement:
			stack = stack[:len(stack)-1]
		case xml.CharData:
			if len(stack) > 0 {
				stack[len(stack)-1].text.Write(t)
			}
		}
	}
	if root == nil {
		return nil, errorf(formatXML, "", "no root element; expected frab's <schedule>")
	}
	return root, nil
}

// parseXML reads a frab schedule.xml:
// <schedule><version/><conference>…</conference><day index date start end>
// <room name><event guid id>…</event></room></day></schedule>.
func parseXML(data []byte) (*Schedule, error) {
	root, err := readXMLTree(data)
	if err != nil {
		return nil, err
	}
	if root.name != "schedule" {
		return nil, errorf(formatXML, "line "+strconv.Itoa(root.line), "root element is <%s>; expected frab's <schedule> with <conference> and <day> elements", shorten(root.name, 40))
	}
	raw := rawConference{format: formatXML, version: root.childText("version")}
	if c := root.child("conference"); c != nil {
		raw.acronym = c.childText("acronym")
		raw.title = c.childText("title")
		raw.timeZoneName = c.childText("time_zone_name")
		raw.url = c.childText("base_url")
		if rooms := c.child("rooms"); rooms != nil {
			for _, r := range rooms.children {
				if r.name == "room" {
					raw.rooms = append(raw.rooms, cmpOr(r.attr("name"), r.text.String()))
				}
			}
		}
	} else if root.child("day") == nil {
		return nil, errorf(formatXML, "line "+strconv.Itoa(root.line), "<schedule> has neither <conference> nor <day>; expected frab's schedule.xml")
	}
	for _, d := range root.children {
		if d.name != "day" {
			continue
		}
		rd := rawDay{
			where: "day " + d.attr("date") + " (line " + strconv.Itoa(d.line) + ")",
			index: d.attr("index"), date: d.attr("date"),
			start: d.attr("start"), end: d.attr("end"),
		}
		for _, r := range d.children {
			if r.name != "room" {
				continue
			}
			room := r.attr("name")
			if strings.TrimSpace(room) == "" {
				return nil, errorf(formatXML, "line "+strconv.Itoa(r.line), "<room> without a name attribute")
			}
			for _, e := range r.children {
				if e.name != "event" {
					continue
				}
				rd.events = append(rd.events, xmlEvent(e, room))
			}
		}
		raw.days = append(raw.days, rd)
	}
	return build(raw)
}

func xmlEvent(e *xmlNode, room string) rawEvent {
	re := rawEvent{
		where:       "line " + strconv.Itoa(e.line),
		listedRoom:  room,
		guid:        e.attr("guid"),
		id:          e.attr("id"),
		code:        e.attr("code"),
		date:        e.childText("date"),
		start:       e.childText("start"),
		duration:    e.childText("duration"),
		room:        e.childText("room"),
		slug:        e.childText("slug"),
		url:         e.childText("url"),
		title:       e.childText("title"),
		subtitle:    e.childText("subtitle"),
		track:       e.childText("track"),
		typ:         e.childText("type"),
		language:    e.childText("language"),
		abstract:    e.childText("abstract"),
		description: e.childText("description"),
	}
	if re.guid == "" {
		re.guid = e.childText("guid")
	}
	if rec := e.child("recording"); rec != nil {
		switch strings.ToLower(strings.TrimSpace(rec.childText("optout"))) {
		case "true", "yes", "1":
			re.doNotRecord = true
		}
	}
	if p := e.child("persons"); p != nil {
		for _, c := range p.children {
			if c.name == "person" {
				re.persons = append(re.persons, c.text.String())
			}
		}
	}
	return re
}
