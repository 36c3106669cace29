package chat

import "time"

// Slide is one page change of a talk's slides.
type Slide struct {
	Talk string    `json:"talk"`
	Page int       `json:"page"` // 1-based
	Time time.Time `json:"ts"`
}

// SetSlide records that the presenter of talk turned to page and tells
// everyone ({"type":"slide","talk","page"}); viewers who join later get it
// in their welcome frame.
func (h *Hub) SetSlide(talk string, page int) error {
	sl := Slide{Talk: talk, Page: page, Time: h.Now().UTC()}
	return h.commit("", logRecord{Slide: &sl})
}

func (h *Hub) appendSlideLocked(sl Slide) {
	h.slides = append(h.slides, sl)
	if over := len(h.slides) - h.MaxLog; over > 0 {
		h.slides = append(h.slides[:0:0], h.slides[over:]...)
	}
}

// currentSlideLocked is the page last shown, for the welcome frame; nil
// before any.
func (h *Hub) currentSlideLocked() *slideFrame {
	if len(h.slides) == 0 {
		return nil
	}
	sl := h.slides[len(h.slides)-1]
	return &slideFrame{Type: "slide", Talk: sl.Talk, Page: sl.Page}
}

// Slides returns talk's page changes, oldest first, for archiving.
func (h *Hub) Slides(talk string) []Slide {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []Slide
	for _, sl := range h.slides {
		if sl.Talk == talk {
			out = append(out, sl)
		}
	}
	return out
}
