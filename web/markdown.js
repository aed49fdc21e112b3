// A small, safe markdown renderer for journal articles. It builds DOM nodes
// directly: text only ever becomes text nodes, so nothing in the markdown can
// become markup. Supported: # headings, paragraphs, - / 1. lists, > quotes,
// ``` code blocks, ---, **bold**, *italic* / _italic_, `code`, [links](http…)
// (http and https only) and ![images](…) from Kioku's media folder, which are
// loaded through the API (they need the Bearer header) as blob: URLs.

import { mediaUrl } from './api.js';
import { h } from './ui.js';

const INLINE = /(`+)([^`]|[^`][\s\S]*?[^`])\1(?!`)|!\[([^\]]*)\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)|\[([^\]]+)\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)|\*\*([^*]+(?:\*(?!\*)[^*]*)*)\*\*|__([^_]+)__|\*([^*\s](?:[^*]*[^*\s])?)\*|(?<![\w])_([^_\s](?:[^_]*[^_\s])?)_(?![\w])|(https?:\/\/[^\s<>()]+[^\s<>().,;:!?'"])/g;

export function safeHref(url) {
  try {
    const u = new URL(url, location.href);
    return u.protocol === 'http:' || u.protocol === 'https:' ? u.href : null;
  } catch {
    return null;
  }
}

// The media file name of an image reference: journal bodies hold the absolute
// path of the stored photo (".../media/<sha256>.jpg"); /api/media/ takes the name.
export function mediaName(src) {
  if (/^[a-z]+:/i.test(src) && !src.startsWith('file:')) return null;
  const name = decodeURIComponent(src.split(/[\\/]/).pop() || '');
  return /^[A-Za-z0-9_-][A-Za-z0-9._-]*$/.test(name) ? name : null;
}

function image(alt, src) {
  const figure = h('figure', { class: 'md-figure' });
  const img = h('img', { alt: alt || 'photo', loading: 'lazy', class: 'md-image' });
  const name = mediaName(src);
  if (name) {
    mediaUrl(name)
      .then((url) => {
        img.src = url;
      })
      .catch(() => {
        figure.classList.add('md-missing');
      });
  } else {
    figure.classList.add('md-missing'); // remote images are not loaded (CSP; privacy)
  }
  figure.append(img);
  if (alt) figure.append(h('figcaption', {}, alt));
  return figure;
}

export function renderInline(text) {
  const out = [];
  let last = 0;
  // A fresh RegExp per call: the global one's lastIndex would be reset by
  // the recursive calls below.
  const re = new RegExp(INLINE.source, 'g');
  let m;
  while ((m = re.exec(text))) {
    if (m.index > last) out.push(document.createTextNode(text.slice(last, m.index)));
    last = re.lastIndex;
    if (m[1]) out.push(h('code', {}, m[2]));
    else if (m[4] !== undefined) out.push(image(m[3], m[4]));
    else if (m[5] !== undefined) {
      const href = safeHref(m[6]);
      if (href) out.push(h('a', { href, target: '_blank', rel: 'noopener noreferrer' }, renderInline(m[5])));
      else out.push(document.createTextNode(m[5]));
    } else if (m[7] !== undefined) out.push(h('strong', {}, renderInline(m[7])));
    else if (m[8] !== undefined) out.push(h('strong', {}, renderInline(m[8])));
    else if (m[9] !== undefined) out.push(h('em', {}, renderInline(m[9])));
    else if (m[10] !== undefined) out.push(h('em', {}, renderInline(m[10])));
    else if (m[11] !== undefined) {
      const href = safeHref(m[11]);
      out.push(href ? h('a', { href, target: '_blank', rel: 'noopener noreferrer' }, m[11]) : document.createTextNode(m[11]));
    }
  }
  if (last < text.length) out.push(document.createTextNode(text.slice(last)));
  return out;
}

// Inline text of a paragraph: single newlines are soft breaks.
function paragraphNodes(lines) {
  const nodes = [];
  lines.forEach((line, i) => {
    if (i) nodes.push(line.endsWith('  ') || lines[i - 1].endsWith('  ') ? h('br') : document.createTextNode(' '));
    nodes.push(...renderInline(line.trim()));
  });
  return nodes;
}

const LIST_ITEM = /^(\s*)([-*+]|\d{1,9}[.)])\s+(.*)$/;

export function renderMarkdown(source) {
  const root = h('div', { class: 'markdown' });
  const lines = String(source || '').replace(/\r\n?/g, '\n').split('\n');
  let i = 0;
  let para = [];
  const flush = () => {
    if (para.length) root.append(h('p', {}, paragraphNodes(para)));
    para = [];
  };
  while (i < lines.length) {
    const line = lines[i];
    let m;
    if (!line.trim()) {
      flush();
      i++;
    } else if ((m = line.match(/^\s*(```+|~~~+)\s*([\w+-]*)\s*$/))) {
      flush();
      const fence = m[1];
      const code = [];
      i++;
      while (i < lines.length && !lines[i].trim().startsWith(fence)) code.push(lines[i++]);
      i++;
      root.append(h('pre', {}, h('code', m[2] ? { 'data-lang': m[2] } : {}, code.join('\n'))));
    } else if ((m = line.match(/^\s{0,3}(#{1,6})\s+(.*?)\s*#*\s*$/))) {
      flush();
      root.append(h(`h${m[1].length}`, {}, renderInline(m[2])));
      i++;
    } else if (/^\s{0,3}([-*_])(\s*\1){2,}\s*$/.test(line)) {
      flush();
      root.append(h('hr'));
      i++;
    } else if (/^\s{0,3}>/.test(line)) {
      flush();
      const quoted = [];
      while (i < lines.length && /^\s{0,3}>/.test(lines[i])) quoted.push(lines[i++].replace(/^\s{0,3}>\s?/, ''));
      const inner = renderMarkdown(quoted.join('\n'));
      root.append(h('blockquote', {}, Array.from(inner.childNodes)));
    } else if ((m = line.match(LIST_ITEM))) {
      flush();
      const ordered = /\d/.test(m[2]);
      const list = h(ordered ? 'ol' : 'ul');
      if (ordered && parseInt(m[2], 10) !== 1) list.setAttribute('start', String(parseInt(m[2], 10)));
      while (i < lines.length && (m = lines[i].match(LIST_ITEM)) && /\d/.test(m[2]) === ordered) {
        const item = [m[3]];
        i++;
        // Continuation lines (indented, not a new item).
        while (i < lines.length && lines[i].trim() && /^\s{2,}/.test(lines[i]) && !LIST_ITEM.test(lines[i])) item.push(lines[i++].trim());
        const task = item[0].match(/^\[([ xX])\]\s+(.*)$/);
        if (task) {
          item[0] = task[2];
          list.append(h('li', { class: 'task' }, h('input', { type: 'checkbox', disabled: true, checked: task[1] !== ' ' }), ' ', paragraphNodes(item)));
        } else list.append(h('li', {}, paragraphNodes(item)));
      }
      root.append(list);
    } else if (/^\s*!\[[^\]]*\]\([^)]*\)\s*$/.test(line)) {
      // An image on its own line is a figure, not a paragraph.
      flush();
      root.append(...renderInline(line.trim()));
      i++;
    } else {
      para.push(line);
      i++;
    }
  }
  flush();
  return root;
}
