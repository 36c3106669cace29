package testkit

import (
	"fmt"
	"net/http"
	"time"
)

// WaitHealthy polls url until it answers 200 OK, for the service what
// whose process closes exited when it ends. The error says whether the
// service exited first or was not healthy within, followed by out (its
// output so far).
//
// No keep-alive: an idle connection held to the port would keep the killed
// service's end of it in FIN_WAIT_2, and a restart could not bind the port
// again.
func WaitHealthy(what, url string, exited <-chan struct{}, within time.Duration, out fmt.Stringer) error {
	client := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	deadline := time.Now().Add(within)
	for {
		resp, err := client.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-exited:
			return fmt.Errorf("%s exited before it was healthy:\n%s", what, out)
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s not healthy at %s after %v:\n%s", what, url, within, out)
		}
	}
}
