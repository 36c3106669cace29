package archive

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

// A speaker link's token lets one talk's speaker change that talk's slides.
// Only its SHA-256 is kept, in talks/{id}/speaker.json, apart from talk.json:
// talk.json is public (served by /archive, and by any static host in front of
// the bucket), speaker.json must not be. A SHA-256 suffices (no slow hash):
// the token is 192 random bits, not a password a person chose.

// speakerTokenBytes is the token's randomness: 192 bits, 32 characters.
const speakerTokenBytes = 24

// SpeakerKey is the key of the hash of a talk's speaker token. /archive must
// not serve it.
func SpeakerKey(id string) string { return "talks/" + id + "/speaker.json" }

// IsSpeakerKey tells whether key is a talk's speaker.json.
func IsSpeakerKey(key string) bool {
	id, ok := strings.CutPrefix(key, "talks/")
	if !ok {
		return false
	}
	id, ok = strings.CutSuffix(id, "/speaker.json")
	return ok && !strings.Contains(id, "/")
}

// speakerFile is speaker.json.
type speakerFile struct {
	Version     int       `json:"version"`
	TokenSHA256 string    `json:"token_sha256"`
	IssuedAt    time.Time `json:"issued_at"`
}

func hashToken(token string) [sha256.Size]byte { return sha256.Sum256([]byte(token)) }

// IssueSpeakerToken makes a new speaker token for the talk and returns it;
// the previous one, if any, stops working. The token itself is not kept:
// ask again to have a new one.
func (l *Library) IssueSpeakerToken(ctx context.Context, id string) (string, error) {
	raw := make([]byte, speakerTokenBytes)
	if _, err := rand.Read(raw); err != nil {
		return "", fmt.Errorf("make a speaker token: %w", err)
	}
	token := base64.RawURLEncoding.EncodeToString(raw)
	h := hashToken(token)
	l.writeMu.Lock()
	defer l.writeMu.Unlock()
	if _, err := l.current(id); err != nil {
		return "", err
	}
	data, err := json.MarshalIndent(speakerFile{Version: 1, TokenSHA256: hex.EncodeToString(h[:]), IssuedAt: l.Now().UTC()}, "", "  ")
	if err != nil {
		return "", err
	}
	if err := l.Store.Put(ctx, SpeakerKey(id), strings.NewReader(string(data)+"\n"), int64(len(data))+1, "application/json"); err != nil {
		return "", fmt.Errorf("save the speaker link of talk %q: %w", id, err)
	}
	l.mu.Lock()
	l.speakers[id] = h
	l.mu.Unlock()
	l.notice(id)
	return token, nil
}

// RevokeSpeakerToken makes the talk's speaker token stop working. A talk
// without one is fine.
func (l *Library) RevokeSpeakerToken(ctx context.Context, id string) error {
	l.writeMu.Lock()
	defer l.writeMu.Unlock()
	if _, err := l.current(id); err != nil {
		return err
	}
	return l.revokeSpeaker(ctx, id)
}

// revokeSpeaker deletes speaker.json, then forgets the hash; writeMu held.
func (l *Library) revokeSpeaker(ctx context.Context, id string) error {
	if err := l.Store.Delete(ctx, SpeakerKey(id)); err != nil {
		return fmt.Errorf("revoke the speaker link of talk %q: %w", id, err)
	}
	l.mu.Lock()
	delete(l.speakers, id)
	l.mu.Unlock()
	l.notice(id) // another node may hold the link this one did not know
	return nil
}

// SpeakerTalk returns the talk whose speaker token token is. Every talk's
// hash is compared, each in constant time, so the answer's timing does not
// depend on how much of a guess is right.
func (l *Library) SpeakerTalk(token string) (id string, ok bool) {
	if token == "" {
		return "", false
	}
	h := hashToken(token)
	l.mu.RLock()
	defer l.mu.RUnlock()
	for tid, want := range l.speakers {
		if subtle.ConstantTimeCompare(h[:], want[:]) == 1 {
			id, ok = tid, true
		}
	}
	return id, ok
}

// HasSpeakerToken tells whether the talk has a speaker link now.
func (l *Library) HasSpeakerToken(id string) bool {
	l.mu.RLock()
	defer l.mu.RUnlock()
	_, ok := l.speakers[id]
	return ok
}

// loadSpeaker reads a talk's speaker.json.
func (l *Library) loadSpeaker(ctx context.Context, id string) ([sha256.Size]byte, error) {
	var h [sha256.Size]byte
	data, err := readSmall(ctx, l.Store, SpeakerKey(id), 4<<10)
	if err != nil {
		return h, err
	}
	var f speakerFile
	if err := json.Unmarshal(data, &f); err != nil {
		return h, fmt.Errorf("parse: %w", err)
	}
	b, err := hex.DecodeString(f.TokenSHA256)
	if err != nil || len(b) != sha256.Size {
		return h, fmt.Errorf("token_sha256 is not a SHA-256 in hex")
	}
	copy(h[:], b)
	return h, nil
}
