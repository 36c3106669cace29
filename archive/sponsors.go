package archive

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"
)

// Sponsors' logos live in the bucket beside the talks, so that the room
// screen and the live page can thank them and the bucket stays the whole
// truth:
//
//	sponsors/index.json   {"version":1,"sponsors":[{id,name,type,size,added_at}…]}
//	sponsors/{id}         the logo as uploaded (PNG, JPEG or a checked SVG)
//
// The id is made by salon (a slug of the sponsor's name, random hex, the
// type's extension); names of uploaded files never reach a key.

// SponsorIndexKey is the list of sponsors, in the order they are shown.
const SponsorIndexKey = "sponsors/index.json"

// Limits of sponsors.
const (
	// DefaultMaxLogo caps one logo: a logo is a few KB to a few hundred.
	DefaultMaxLogo = 1 << 20
	// MaxSponsors bounds the list, which is read whole on every page.
	MaxSponsors = 60
	// MaxSponsorName bounds a sponsor's name, in characters.
	MaxSponsorName = 100
)

// Sponsor is one sponsor's logo.
type Sponsor struct {
	ID      string    `json:"id"`   // the key below sponsors/
	Name    string    `json:"name"` // shown as the logo's alternative text
	Type    string    `json:"type"` // image/png, image/jpeg or image/svg+xml
	Size    int64     `json:"size"`
	AddedAt time.Time `json:"added_at"`
}

// SponsorKey is the key of a sponsor's logo.
func SponsorKey(id string) string { return "sponsors/" + id }

type sponsorIndex struct {
	Version  int       `json:"version"`
	Sponsors []Sponsor `json:"sponsors"`
}

// Sponsors keeps the sponsors' logos. mu guards list and is never held
// during storage I/O; writeMu serialises this node's changes (index
// read-modify-write). Nodes sharing the bucket change the index with
// conditional writes (read it with its ETag, change, PutIf; again when
// another node wrote it meanwhile), tell each other through Notices, and
// Reload what the others changed. Call Initialize first.
type Sponsors struct {
	Store   Store
	Log     *slog.Logger
	MaxSize int64            // bytes per logo, default DefaultMaxLogo
	Now     func() time.Time // default time.Now
	// Notices, when set (a cluster), is told after each change this node
	// made, so that the other nodes Reload. It must not block.
	Notices SponsorNotices

	writeMu sync.Mutex
	mu      sync.RWMutex
	list    []Sponsor
}

// Initialize reads sponsors/index.json; none is an empty list. An index that
// does not parse is logged and treated as empty, so that salon starts; the
// next upload rewrites it.
func (s *Sponsors) Initialize(ctx context.Context) error {
	if s.Store == nil {
		return errors.New("sponsors: no store configured")
	}
	if s.Log == nil {
		s.Log = slog.New(slog.DiscardHandler)
	}
	if s.Now == nil {
		s.Now = time.Now
	}
	if s.MaxSize <= 0 {
		s.MaxSize = DefaultMaxLogo
	}
	return s.Reload(ctx)
}

// SponsorNotices is told when this node changed the sponsors
// (Sponsors.Notices); cmd/salon adapts the cluster's notices.
type SponsorNotices interface {
	SponsorsChanged()
}

// maxSponsorIndex bounds index.json when read back.
const maxSponsorIndex = 1 << 20

// readIndex reads index.json and its ETag ("" and absent when there is
// none). An index that does not parse is logged and read as empty, so that
// salon starts; the next change rewrites it.
func (s *Sponsors) readIndex(ctx context.Context) (list []Sponsor, etag string, absent bool, err error) {
	data, info, err := readSmallInfo(ctx, s.Store, SponsorIndexKey, maxSponsorIndex)
	if errors.Is(err, ErrNotFound) {
		return nil, "", true, nil
	}
	if err != nil {
		return nil, "", false, fmt.Errorf("sponsors: read %s: %w; check that the archive is reachable", SponsorIndexKey, err)
	}
	list, perr := parseSponsorIndex(data)
	if perr != nil {
		s.Log.Warn("the sponsors' index does not load; the sponsors list is empty (upload again)", "key", SponsorIndexKey, "error", perr)
		list = nil
	}
	return list, info.ETag, false, nil
}

// Reload reads the sponsors' list again from the bucket (another node
// changed it).
func (s *Sponsors) Reload(ctx context.Context) error {
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	list, _, _, err := s.readIndex(ctx)
	if err != nil {
		return err
	}
	s.mu.Lock()
	s.list = list
	s.mu.Unlock()
	return nil
}

// parseSponsorIndex reads index.json, read back from the bucket: untrusted.
func parseSponsorIndex(data []byte) ([]Sponsor, error) {
	var idx sponsorIndex
	if err := json.Unmarshal(data, &idx); err != nil {
		return nil, fmt.Errorf("parse: %w", err)
	}
	if len(idx.Sponsors) > MaxSponsors {
		return nil, fmt.Errorf("%d sponsors, at most %d", len(idx.Sponsors), MaxSponsors)
	}
	for i, sp := range idx.Sponsors {
		if !validSponsorID(sp.ID) || logoTypeOfExt(sp.ID) != sp.Type {
			return nil, fmt.Errorf("sponsors[%d]: bad id %q or type %q", i, truncateRunes(sp.ID, 80), truncateRunes(sp.Type, 40))
		}
		if err := checkText(fmt.Sprintf("sponsors[%d].name", i), sp.Name, 1, MaxSponsorName, false); err != nil {
			return nil, err
		}
	}
	return idx.Sponsors, nil
}

// validSponsorID: a-z 0-9 - then one of the logo extensions.
func validSponsorID(id string) bool {
	return logoTypeOfExt(id) != "" && ValidTalkID(strings.TrimSuffix(id, ext0(id)))
}

func ext0(id string) string {
	if i := strings.LastIndexByte(id, '.'); i >= 0 {
		return id[i:]
	}
	return ""
}

func logoTypeOfExt(id string) string {
	switch ext0(id) {
	case ".png":
		return "image/png"
	case ".jpg":
		return "image/jpeg"
	case ".svg":
		return "image/svg+xml"
	}
	return ""
}

// List returns the sponsors in the order they are shown.
func (s *Sponsors) List() []Sponsor {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return slices.Clone(s.list)
}

// Get returns one sponsor; the error wraps ErrNotFound.
func (s *Sponsors) Get(id string) (Sponsor, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	for _, sp := range s.list {
		if sp.ID == id {
			return sp, nil
		}
	}
	return Sponsor{}, fmt.Errorf("sponsor %q: %w", truncateRunes(id, 80), ErrNotFound)
}

// Add stores a logo read from r (at most MaxSize bytes; more is ErrTooLarge)
// for the sponsor name. The type comes from the content: PNG, JPEG, or an
// SVG that CheckSVG accepts; anything else is ErrUnsupportedType. The logo
// is stored before the index names it, so a failure leaves the list as it
// was (and at worst an unlisted object).
func (s *Sponsors) Add(ctx context.Context, name string, r io.Reader) (Sponsor, error) {
	name = strings.TrimSpace(name)
	if err := checkText("name", name, 1, MaxSponsorName, false); err != nil {
		return Sponsor{}, err
	}
	data, err := io.ReadAll(io.LimitReader(r, s.MaxSize+1))
	if err != nil {
		return Sponsor{}, fmt.Errorf("read the logo: %w", err)
	}
	if int64(len(data)) > s.MaxSize {
		return Sponsor{}, fmt.Errorf("the logo is larger than %d KB: %w", s.MaxSize>>10, ErrTooLarge)
	}
	if len(data) == 0 {
		return Sponsor{}, fmt.Errorf("the file is empty: %w: %w", ErrEmpty, ErrInvalid)
	}
	mediaType, ext, err := sniffLogo(data)
	if err != nil {
		return Sponsor{}, err
	}
	var rnd [4]byte
	_, _ = rand.Read(rnd[:])
	sp := Sponsor{
		ID:      truncateID(SlugID(name), 40) + "-" + hex.EncodeToString(rnd[:]) + ext,
		Name:    name,
		Type:    mediaType,
		Size:    int64(len(data)),
		AddedAt: s.Now().UTC().Truncate(time.Second),
	}
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	if len(s.List()) >= MaxSponsors {
		return Sponsor{}, fmt.Errorf("at most %d sponsors; remove one first: %w", MaxSponsors, ErrConflict)
	}
	if err := s.Store.Put(ctx, SponsorKey(sp.ID), bytes.NewReader(data), int64(len(data)), mediaType); err != nil {
		return Sponsor{}, fmt.Errorf("store the logo of %s: %w", name, err)
	}
	err = s.change(ctx, func(list []Sponsor) ([]Sponsor, error) {
		if len(list) >= MaxSponsors {
			return nil, fmt.Errorf("at most %d sponsors; remove one first: %w", MaxSponsors, ErrConflict)
		}
		return append(list, sp), nil
	})
	if err != nil {
		_ = s.Store.Delete(ctx, SponsorKey(sp.ID))
		return Sponsor{}, err
	}
	return sp, nil
}

// Delete removes a sponsor from the list, then its logo.
func (s *Sponsors) Delete(ctx context.Context, id string) error {
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	if _, err := s.Get(id); err != nil {
		return err
	}
	err := s.change(ctx, func(list []Sponsor) ([]Sponsor, error) {
		if !slices.ContainsFunc(list, func(sp Sponsor) bool { return sp.ID == id }) {
			return nil, fmt.Errorf("sponsor %q (removed on another node meanwhile): %w", truncateRunes(id, 80), ErrNotFound)
		}
		return slices.DeleteFunc(list, func(sp Sponsor) bool { return sp.ID == id }), nil
	})
	if err != nil {
		return err
	}
	if err := s.Store.Delete(ctx, SponsorKey(id)); err != nil {
		s.Log.Warn("a removed sponsor's logo remains in the bucket; delete it by hand", "key", SponsorKey(id), "error", err)
	}
	return nil
}

// Open reads a listed sponsor's logo.
func (s *Sponsors) Open(ctx context.Context, id string) (io.ReadCloser, Sponsor, error) {
	sp, err := s.Get(id)
	if err != nil {
		return nil, Sponsor{}, err
	}
	rc, _, err := s.Store.Get(ctx, SponsorKey(id), 0, -1)
	if err != nil {
		return nil, Sponsor{}, err
	}
	return rc, sp, nil
}

// change applies edit to the list as the bucket has it now and writes it
// only if nobody wrote it meanwhile (PutIf on the ETag read); when another
// node did, it reads it again and edits again. Then it keeps the list and
// tells the other nodes. writeMu held.
func (s *Sponsors) change(ctx context.Context, edit func([]Sponsor) ([]Sponsor, error)) error {
	for attempt := 1; ; attempt++ {
		list, etag, absent, err := s.readIndex(ctx)
		if err != nil {
			return err
		}
		cur := list
		if list, err = edit(slices.Clone(cur)); err != nil {
			s.mu.Lock()
			s.list = cur // what the bucket says, which the refusal is about
			s.mu.Unlock()
			return err
		}
		data, err := json.MarshalIndent(sponsorIndex{Version: 1, Sponsors: list}, "", "  ")
		if err != nil {
			return err
		}
		_, err = s.Store.PutIf(ctx, SponsorIndexKey, append(data, '\n'), "", Condition{IfMatch: etag, IfNoneMatch: absent})
		if errors.Is(err, ErrPreconditionFailed) && attempt < maxWriteRetries {
			s.Log.Info("the sponsors' list was changed on another node since it was read; reading it again", "attempt", attempt)
			continue
		}
		if err != nil {
			return fmt.Errorf("save the sponsors' list: %w", err)
		}
		s.mu.Lock()
		s.list = list
		s.mu.Unlock()
		if s.Notices != nil {
			s.Notices.SponsorsChanged()
		}
		return nil
	}
}
