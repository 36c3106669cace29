package relay

import (
	"container/list"
	"sync"
	"time"
)

// cache keeps fetched objects, least recently used dropped first once their
// bytes pass max. An entry with an expiry (a playlist the owner allowed to
// be kept briefly) is dropped at it; immutable files have none.
//
// mu guards everything.
type cache struct {
	mu    sync.Mutex
	max   int64
	bytes int64
	order *list.List // of *cacheEntry, most recent first
	byKey map[string]*list.Element
}

type cacheEntry struct {
	key     string
	obj     Object
	expires time.Time // zero: until evicted
}

func newCache(max int64) *cache {
	return &cache{max: max, order: list.New(), byKey: make(map[string]*list.Element)}
}

func (c *cache) get(key string, now time.Time) (Object, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	el := c.byKey[key]
	if el == nil {
		return Object{}, false
	}
	e := el.Value.(*cacheEntry)
	if !e.expires.IsZero() && !now.Before(e.expires) {
		c.remove(el)
		return Object{}, false
	}
	c.order.MoveToFront(el)
	return e.obj, true
}

// put keeps obj; an object larger than an eighth of the cache is not kept
// (it would push out the whole live window of a stage).
func (c *cache) put(key string, obj Object, expires time.Time) {
	size := int64(len(obj.Body)) + int64(len(key))
	if size > c.max/8 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if el := c.byKey[key]; el != nil {
		c.remove(el)
	}
	c.byKey[key] = c.order.PushFront(&cacheEntry{key: key, obj: obj, expires: expires})
	c.bytes += size
	for c.bytes > c.max {
		c.remove(c.order.Back())
	}
}

// remove drops el; c.mu is held.
func (c *cache) remove(el *list.Element) {
	e := el.Value.(*cacheEntry)
	c.order.Remove(el)
	delete(c.byKey, e.key)
	c.bytes -= int64(len(e.obj.Body)) + int64(len(e.key))
}

// size is the bytes kept now.
func (c *cache) size() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.bytes
}
