//go:build !linux

package bench

import (
	"errors"
	"time"
)

// The chat load tool's readers use epoll (chat_epoll_linux.go).

type epollLoop struct{}

var (
	errNoEpoll = errors.New("salon-bench chat needs Linux (its readers use epoll)")
	errEOF     = errors.New("EOF")
)

func newEpollLoop(func() int64, func(*chatViewer, []byte, int64, error)) (*epollLoop, error) {
	return nil, errNoEpoll
}

func (l *epollLoop) add(*chatViewer) error { return errNoEpoll }
func (l *epollLoop) stop() error           { return nil }

func closeFD(int) error { return errNoEpoll }

func writeFD(int, []byte, time.Duration) (bool, error) { return false, errNoEpoll }
