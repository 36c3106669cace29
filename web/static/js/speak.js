// The speaker's upload page, /speak/{id}?token=…: drag in (or choose) a
// deck, watch it upload, replace or delete what was uploaded. The token from
// the page's URL goes with every API call as a bearer token. Text from the
// server is set with textContent only.
import { formatBytes } from './lib/format.js';
import { errorText as httpErrorText } from './lib/api.js';
import { t } from './lib/i18n.js';

(function () {
  var main = document.getElementById('main');
  var api = main.dataset.api;
  var maxMB = Number(main.dataset.maxMb);
  var token = new URLSearchParams(location.search).get('token') || '';
  var uploader = document.getElementById('uploader');
  var drop = document.getElementById('drop');
  var input = document.getElementById('file');
  var choose = document.getElementById('choose');
  var box = document.getElementById('progress-box');
  var bar = document.getElementById('progress');
  var barText = document.getElementById('progress-text');
  var status = document.getElementById('upload-status');
  var list = document.getElementById('files');
  var endedNote = document.getElementById('ended-note');
  var busy = false;
  var replacing = null; // name of the file a "Replace" is for

  function say(text, bad) {
    status.textContent = text;
    status.classList.toggle('is-error', !!bad);
  }

  function setProgress(pct) {
    bar.value = pct;
    barText.textContent = pct + ' %';
  }

  function slideURL(name) {
    return '/archive/talks/' + main.dataset.talk + '/slides/' + encodeURIComponent(name);
  }

  function errorText(xhrOrResp, body) {
    return httpErrorText(xhrOrResp.status, body && body.error);
  }

  function setEnded(ended) {
    main.dataset.ended = String(ended);
    endedNote.hidden = !ended;
    drop.hidden = ended;
    list.querySelectorAll('button').forEach(function (b) { b.hidden = ended; });
  }

  function renderList(slides) {
    list.replaceChildren();
    slides.forEach(function (s) {
      var li = document.createElement('li');
      li.dataset.name = s.name;
      var a = document.createElement('a');
      a.href = slideURL(s.name);
      a.download = s.name;
      a.textContent = s.name;
      var meta = document.createElement('span');
      meta.className = 'slides-meta';
      meta.textContent = formatBytes(s.size);
      var replace = document.createElement('button');
      replace.type = 'button';
      replace.className = 'link-button';
      replace.textContent = t('speak.replace');
      replace.addEventListener('click', function () {
        replacing = s.name;
        input.click();
      });
      var del = document.createElement('button');
      del.type = 'button';
      del.className = 'link-button';
      del.textContent = t('speak.delete');
      del.addEventListener('click', function () { remove(s.name); });
      li.append(a, ' ', meta, ' ', replace, ' ', del);
      list.append(li);
    });
    setEnded(main.dataset.ended === 'true');
  }

  function refresh() {
    return fetch(api, { cache: 'no-store' }).then(function (r) {
      if (!r.ok) throw new Error(r.status);
      return r.json();
    }).then(function (t) {
      setEnded(!!t.ended);
      renderList(t.slides || []);
    }).catch(function () { /* keep the list as it is */ });
  }

  function remove(name) {
    return fetch(api + '/slides/' + encodeURIComponent(name), {
      method: 'DELETE',
      headers: { Authorization: 'Bearer ' + token },
    }).then(function (r) {
      if (r.status === 204) {
        say(t('speak.deleted', { Name: name }));
        return refresh();
      }
      return r.json().catch(function () { return null; }).then(function (b) { say(errorText(r, b), true); });
    }).catch(function () { say(t('http.unreachable'), true); });
  }

  function upload(file) {
    if (busy || !file) return;
    if (file.size > maxMB * 1048576) {
      say(file.name + ' is larger than the limit of ' + maxMB + ' MB.', true);
      return;
    }
    busy = true;
    var old = replacing;
    replacing = null;
    uploader.dataset.state = 'uploading';
    box.hidden = false;
    setProgress(0);
    say(t('speak.uploading', { Name: file.name }));
    var form = new FormData();
    form.append('file', file, file.name);
    var xhr = new XMLHttpRequest();
    xhr.open('POST', api + '/slides');
    xhr.setRequestHeader('Authorization', 'Bearer ' + token);
    xhr.responseType = 'json';
    xhr.upload.addEventListener('progress', function (e) {
      if (e.lengthComputable) setProgress(Math.floor((e.loaded / e.total) * 100));
    });
    xhr.addEventListener('load', function () {
      busy = false;
      var body = xhr.response;
      if (xhr.status === 201 && body) {
        setProgress(100);
        uploader.dataset.state = 'done';
        say(t('speak.uploaded', { Name: body.name, Size: formatBytes(body.size) }));
        var after = old && old !== body.name ? remove(old) : Promise.resolve();
        after.then(refresh);
      } else {
        uploader.dataset.state = 'error';
        say(errorText(xhr, body), true);
      }
    });
    xhr.addEventListener('error', function () {
      busy = false;
      uploader.dataset.state = 'error';
      say(t('speak.uploadBroke'), true);
    });
    xhr.send(form);
  }

  choose.addEventListener('click', function () { replacing = null; input.click(); });
  input.addEventListener('change', function () {
    upload(input.files[0]);
    input.value = '';
  });
  ['dragenter', 'dragover'].forEach(function (ev) {
    drop.addEventListener(ev, function (e) {
      e.preventDefault();
      drop.classList.add('is-over');
    });
  });
  ['dragleave', 'drop'].forEach(function (ev) {
    drop.addEventListener(ev, function () { drop.classList.remove('is-over'); });
  });
  drop.addEventListener('drop', function (e) {
    e.preventDefault();
    if (e.dataTransfer && e.dataTransfer.files.length) upload(e.dataTransfer.files[0]);
  });
  // A file dropped beside the zone must not navigate away from the page.
  window.addEventListener('dragover', function (e) { e.preventDefault(); });
  window.addEventListener('drop', function (e) { e.preventDefault(); });

  refresh();
})();
