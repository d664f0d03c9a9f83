/**
 * The interactive API page: one HTML document, inline CSS and JS, nothing loaded from elsewhere. It reads
 * /api/v1/openapi.json, lists the operations by tag and sends requests with the token typed at the top.
 * Everything from the document is inserted as text (never as HTML).
 */
export const DOCS_PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Herald admin API</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
  body { font: 14px/1.45 system-ui, sans-serif; margin: 0; color: #1d2330; background: #f6f7f9; }
  header { background: #1d2330; color: #fff; padding: 12px 20px; display: flex; gap: 16px; align-items: center; flex-wrap: wrap; }
  header h1 { font-size: 18px; margin: 0 12px 0 0; }
  header input { width: 420px; max-width: 100%; padding: 5px 8px; font: 12px monospace; }
  main { padding: 12px 20px 40px; max-width: 1100px; }
  h2 { font-size: 16px; margin: 22px 0 6px; text-transform: capitalize; }
  details { background: #fff; border: 1px solid #d8dce3; border-radius: 4px; margin: 4px 0; }
  summary { cursor: pointer; padding: 7px 10px; display: flex; gap: 10px; align-items: baseline; }
  .m { font: bold 12px monospace; min-width: 58px; text-align: center; padding: 2px 4px; border-radius: 3px; color: #fff; }
  .GET { background: #2f6fb5; } .POST { background: #2e8b57; } .PUT { background: #b5832f; } .DELETE { background: #b53a2f; }
  .p { font-family: monospace; } .s { color: #5b6475; }
  .body { padding: 4px 12px 12px; border-top: 1px solid #eceef2; }
  label { display: block; margin: 6px 0 2px; font-weight: 600; }
  input.f { width: 320px; padding: 4px 6px; font: 12px monospace; }
  textarea { width: 100%; min-height: 110px; font: 12px monospace; }
  pre { background: #f0f2f5; padding: 8px; overflow: auto; max-height: 420px; font-size: 12px; }
  button { margin-top: 8px; padding: 5px 14px; cursor: pointer; }
</style>
</head>
<body>
<header>
  <h1>Herald admin API</h1>
  <span>Bearer token <input id="token" placeholder="herald token --tenant T --role ADMIN" autocomplete="off"></span>
  <a href="/api/v1/openapi.json" style="color:#9cc3ff">openapi.json</a>
</header>
<main id="main"><p>Loading the OpenAPI document…</p></main>
<script>
(function () {
  var tokenInput = document.getElementById('token');
  tokenInput.value = sessionStorage.getItem('herald-token') || '';
  tokenInput.addEventListener('change', function () { sessionStorage.setItem('herald-token', tokenInput.value.trim()); });
  function el(tag, attrs, children) {
    var e = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) { if (k === 'text') e.textContent = attrs[k]; else e.setAttribute(k, attrs[k]); });
    (children || []).forEach(function (c) { if (c) e.appendChild(c); });
    return e;
  }
  function resolve(spec, schema) {
    if (schema && schema.$ref) { var name = schema.$ref.split('/').pop(); return (spec.components.schemas || {})[name] || schema; }
    return schema;
  }
  function example(spec, schema, depth) {
    schema = resolve(spec, schema || {});
    if (depth > 4) return null;
    if (schema.anyOf) return example(spec, schema.anyOf[0], depth + 1);
    if (schema.const !== undefined) return schema.const;
    if (schema.type === 'object') {
      var o = {};
      (schema.required || []).forEach(function (k) { o[k] = example(spec, schema.properties[k], depth + 1); });
      return o;
    }
    if (schema.type === 'array') return [];
    if (schema.type === 'string') return '';
    if (schema.type === 'integer' || schema.type === 'number') return 0;
    if (schema.type === 'boolean') return false;
    return null;
  }
  function operation(spec, path, method, op) {
    var inputs = {};
    var params = (op.parameters || []).map(function (p) {
      var input = el('input', { class: 'f', placeholder: (p.schema && (p.schema.type || '')) + (p.required ? ' (required)' : '') });
      inputs[p.in + ':' + p.name] = input;
      return el('div', {}, [el('label', { text: p.name + ' (' + p.in + ')' }), input, p.description ? el('div', { class: 's', text: p.description }) : null]);
    });
    var bodySchema = op.requestBody && op.requestBody.content && op.requestBody.content['application/json'] && op.requestBody.content['application/json'].schema;
    var textarea = bodySchema ? el('textarea', {}) : null;
    if (textarea) textarea.value = JSON.stringify(example(spec, bodySchema, 0), null, 2);
    var out = el('pre', { text: '' });
    var button = el('button', { text: 'Send' });
    button.addEventListener('click', function () {
      var url = path.replace(/{([^}]+)}/g, function (_m, name) { return encodeURIComponent(inputs['path:' + name].value); });
      var query = Object.keys(inputs).filter(function (k) { return k.indexOf('query:') === 0 && inputs[k].value !== ''; })
        .map(function (k) { return encodeURIComponent(k.slice(6)) + '=' + encodeURIComponent(inputs[k].value); });
      if (query.length) url += '?' + query.join('&');
      var headers = {};
      var token = tokenInput.value.trim();
      if (token) headers.authorization = 'Bearer ' + token;
      var init = { method: method.toUpperCase(), headers: headers };
      if (textarea) { headers['content-type'] = 'application/json'; init.body = textarea.value; }
      out.textContent = '…';
      fetch(url, init).then(function (res) {
        return res.text().then(function (text) {
          var shown = text;
          try { shown = JSON.stringify(JSON.parse(text), null, 2); } catch (e) {}
          out.textContent = res.status + ' ' + res.statusText + '\\n' + shown;
        });
      }, function (err) { out.textContent = String(err); });
    });
    var responses = Object.keys(op.responses || {}).join(', ');
    return el('details', {}, [
      el('summary', {}, [el('span', { class: 'm ' + method.toUpperCase(), text: method.toUpperCase() }), el('span', { class: 'p', text: path }), el('span', { class: 's', text: op.summary || '' })]),
      el('div', { class: 'body' }, [
        op.description ? el('p', { text: op.description }) : null,
        el('div', { class: 's', text: 'Responses: ' + responses })
      ].concat(params).concat(textarea ? [el('label', { text: 'Body (application/json)' }), textarea] : []).concat([button, out]))
    ]);
  }
  fetch('/api/v1/openapi.json').then(function (r) { return r.json(); }).then(function (spec) {
    var main = document.getElementById('main');
    main.textContent = '';
    main.appendChild(el('p', { text: spec.info.description }));
    var byTag = {};
    Object.keys(spec.paths).forEach(function (path) {
      Object.keys(spec.paths[path]).forEach(function (method) {
        var op = spec.paths[path][method];
        var tag = (op.tags && op.tags[0]) || 'other';
        (byTag[tag] = byTag[tag] || []).push(operation(spec, path, method, op));
      });
    });
    Object.keys(byTag).forEach(function (tag) {
      main.appendChild(el('h2', { text: tag }));
      byTag[tag].forEach(function (node) { main.appendChild(node); });
    });
  }, function (err) { document.getElementById('main').textContent = 'Cannot load the OpenAPI document: ' + err; });
})();
</script>
</body>
</html>
`
