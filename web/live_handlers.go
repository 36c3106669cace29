package web

// liveHandlers serve the stages' live HLS (live.go): the playlist, the
// segments, a stage's renditions' files (live_rendition.go) and their CORS
// preflight; with -nats, the files of stages another node ingests, fetched
// from it (live_relay.go). A playlist fetch counts its viewer.
type liveHandlers struct {
	live    liveSource
	stages  stageSource
	relay   relaySource // optional: other nodes' stages (live_relay.go)
	metrics *metrics
	*responder
	*audience
}

func (s *liveHandlers) register(rt *router) {
	rt.handle("GET /live/{stage}/index.m3u8", s.handlePlaylist)
	rt.handle("GET /live/{stage}/{file}", s.handleSegment)
	rt.handle("OPTIONS /live/{stage}/{file}", s.handlePreflight)
	rt.handle("GET /live/{stage}/{rendition}/{file}", s.handleRenditionFile)
	rt.handle("OPTIONS /live/{stage}/{rendition}/{file}", s.handlePreflight)
}
