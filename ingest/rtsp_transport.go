package ingest

import (
	"github.com/bluenviron/gortsplib/v4"
	"github.com/bluenviron/gortsplib/v4/pkg/base"
)

// transportAdvice is the reason given when a publisher asks for RTP over UDP:
// salon takes RTSP over TCP only (one port, NAT-friendly). ffmpeg falls back
// to TCP by itself; GStreamer's rtspclientsink does not, and reports only
// "Could not setup transport".
const transportAdvice = "salon takes RTSP over TCP only: set protocols=tcp (GStreamer rtspclientsink) or -rtsp_transport tcp (ffmpeg)"

var _ gortsplib.ServerHandlerOnResponse = (*rtspHandler)(nil)

// OnResponse gives gortsplib's own refusals a reason phrase. gortsplib
// answers a SETUP with no transport it serves (UDP, multicast) with a bare
// 461 before salon's OnSetup sees it.
func (h *rtspHandler) OnResponse(sc *gortsplib.ServerConn, res *base.Response) {
	if res.StatusCode != base.StatusUnsupportedTransport || res.StatusMessage != "" {
		return
	}
	res.StatusMessage = "Unsupported Transport: " + transportAdvice
	h.transportLog.log("RTSP publisher asked for UDP and was refused: it must publish over TCP",
		"remote", sc.NetConn().RemoteAddr().String(), "hint", transportAdvice)
}
