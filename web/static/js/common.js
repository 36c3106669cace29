// Shared helpers for salon's pages. Text from the server is always set with
// textContent, never parsed as HTML.
'use strict';

window.salon = (function () {
  function formatBitrate(bps) {
    if (bps >= 1e6) return (bps / 1e6).toFixed(1) + ' Mbit/s';
    if (bps >= 1000) return Math.floor(bps / 1000) + ' kbit/s';
    return bps + ' bit/s';
  }

  function sig3(n) {
    return String(Number(n.toPrecision(3)));
  }

  // trackLine mirrors trackLine in pages.go, e.g.
  // "H264 1280×720 30 fps · AAC 48 kHz stereo · 2.6 Mbit/s".
  function trackLine(tracks) {
    var parts = [];
    var total = 0;
    (tracks || []).forEach(function (t) {
      total += t.bitrate || 0;
      var p = t.codec;
      if (t.kind === 'video') {
        if (t.width > 0 && t.height > 0) p += ' ' + t.width + '×' + t.height;
        if (t.frame_rate > 0) p += ' ' + sig3(t.frame_rate) + ' fps';
      } else if (t.kind === 'audio') {
        if (t.sample_rate > 0) p += ' ' + sig3(t.sample_rate / 1000) + ' kHz';
        if (t.channels === 1) p += ' mono';
        else if (t.channels === 2) p += ' stereo';
        else if (t.channels > 2) p += ' ' + t.channels + ' ch';
      }
      parts.push(p);
    });
    if (total > 0) parts.push(formatBitrate(total));
    return parts.join(' · ');
  }

  function viewerText(n) {
    return n === 1 ? '1 watching' : (n || 0) + ' watching';
  }

  function setBadge(el, live) {
    el.textContent = live ? 'Live' : 'Offline';
    el.className = 'badge ' + (live ? 'badge-live' : 'badge-offline');
  }

  return { trackLine: trackLine, viewerText: viewerText, setBadge: setBadge };
})();
