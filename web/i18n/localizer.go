package i18n

import (
	"fmt"
	"strconv"
	"time"

	goi18n "github.com/nicksnyder/go-i18n/v2/i18n"
)

// Localizer gives one language's messages and formats. Safe for concurrent
// use (go-i18n's localizer only reads the bundle).
type Localizer struct {
	lang Language
	loc  *goi18n.Localizer
}

// Lang is the language's tag ("zh-CN").
func (l *Localizer) Lang() string { return l.lang.Tag }

// Language is the language.
func (l *Localizer) Language() Language { return l.lang }

// T is message id with its placeholders filled from kv (name, value, …).
// A missing message gives its id (the catalogs' test keeps that from
// happening).
func (l *Localizer) T(id string, kv ...any) string {
	s, err := l.loc.Localize(&goi18n.LocalizeConfig{MessageID: id, TemplateData: pairs(kv)})
	if err != nil {
		return id
	}
	return s
}

// N is message id in the plural form for n (CLDR rules), with {{.Count}}
// set to n and more placeholders from kv.
func (l *Localizer) N(id string, n int, kv ...any) string {
	data := pairs(kv)
	data["Count"] = n
	s, err := l.loc.Localize(&goi18n.LocalizeConfig{MessageID: id, PluralCount: n, TemplateData: data})
	if err != nil {
		return id
	}
	return s
}

func pairs(kv []any) map[string]any {
	m := make(map[string]any, len(kv)/2+1)
	for i := 0; i+1 < len(kv); i += 2 {
		m[fmt.Sprint(kv[i])] = kv[i+1]
	}
	return m
}

// DateStyle is one of the few ways pages write a time; lib/i18n.js has
// the same styles as Intl.DateTimeFormat options, and a browser test checks
// that both write the same text.
type DateStyle int

const (
	// Time: "14:05".
	Time DateStyle = iota
	// Day: "Wed, 2 Dec 2026" · "2026年12月2日周三".
	Day
	// DayTime: "Wed 2 Dec, 14:05" · "12月2日周三 14:05".
	DayTime
	// LongDay: "Wednesday, 2 December 2026" · "2026年12月2日星期三".
	LongDay
	// DayShort: "Wed 2 Dec" · "12月2日周三".
	DayShort
)

var (
	zhShortWeekday = [...]string{"周日", "周一", "周二", "周三", "周四", "周五", "周六"}
	zhLongWeekday  = [...]string{"星期日", "星期一", "星期二", "星期三", "星期四", "星期五", "星期六"}
)

// Date writes t in loc (nil: UTC) in style, "" for the zero time.
func (l *Localizer) Date(t time.Time, loc *time.Location, style DateStyle) string {
	if t.IsZero() {
		return ""
	}
	if loc == nil {
		loc = time.UTC
	}
	t = t.In(loc)
	if l.lang.Intl == "zh-CN" {
		md := strconv.Itoa(int(t.Month())) + "月" + strconv.Itoa(t.Day()) + "日"
		wd := t.Weekday()
		switch style {
		case Day:
			return strconv.Itoa(t.Year()) + "年" + md + zhShortWeekday[wd]
		case DayTime:
			return md + zhShortWeekday[wd] + " " + t.Format("15:04")
		case LongDay:
			return strconv.Itoa(t.Year()) + "年" + md + zhLongWeekday[wd]
		case DayShort:
			return md + zhShortWeekday[wd]
		}
		return t.Format("15:04")
	}
	switch style {
	case Day:
		return t.Format("Mon, 2 Jan 2006")
	case DayTime:
		return t.Format("Mon 2 Jan, 15:04")
	case LongDay:
		return t.Format("Monday, 2 January 2006")
	case DayShort:
		return t.Format("Mon 2 Jan")
	}
	return t.Format("15:04")
}
