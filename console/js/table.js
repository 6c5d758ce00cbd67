// A list of many rows: search, sort by column, paging, optional selection. Only one page of rows
// is ever in the DOM, and search and sort work on precomputed keys, so it stays fast with tens of
// thousands of rows. Below 760 px wide the rows become stacked cards (see app.css).

import { h, nextId } from './ui.js';

const collator = new Intl.Collator(undefined, { numeric: true, sensitivity: 'base' });
const PAGE_SIZES = [25, 50, 100, 250];

/**
 * columns: [{ id, label, cell(row) -> node(s), sort?(row) -> string|number, className?, hideLabel? }]
 * opts: { noun: ['user', 'users'], key(row), text(row) -> searched text, state (kept across
 *   reloads: query, sort, dir, page, size, plus whatever the page adds), searchLabel, searchHint,
 *   rowAttrs?(row), selectable?(row) -> bool, selectLabel?(row), onSelect?(count), toolbar?: nodes }
 * Returns { el, setRows(rows), selected() -> rows, clearSelection(), focusRow(index), search }.
 */
export function dataTable(columns, opts) {
  const st = opts.state;
  st.query ??= '';
  st.size ??= 50;
  st.page ??= 0;
  let rows = [];
  let view = [];
  const chosen = new Set();
  const [one, many] = opts.noun;

  const searchId = nextId('search');
  const search = h('input', {
    id: searchId, type: 'search', value: st.query, autocomplete: 'off', spellcheck: 'false',
    placeholder: opts.searchHint, 'aria-controls': nextId('tbl'),
  });
  const tableId = search.getAttribute('aria-controls');
  search.addEventListener('input', () => { st.query = search.value; st.page = 0; update(); });
  const sizeSel = h('select', { 'aria-label': `${many[0].toUpperCase()}${many.slice(1)} per page` },
    PAGE_SIZES.map((n) => h('option', { value: String(n), selected: n === st.size }, `${n} per page`)));
  sizeSel.addEventListener('change', () => { st.size = Number(sizeSel.value); st.page = 0; update(); });

  const selectable = opts.selectable && ((r) => opts.selectable(r));
  const allBox = selectable && h('input', { type: 'checkbox', 'aria-label': `Select every ${one} on this page` });
  allBox?.addEventListener('change', () => {
    for (const r of pageRows()) if (selectable(r)) (allBox.checked ? chosen.add(opts.key(r)) : chosen.delete(opts.key(r)));
    renderBody();
  });

  const heads = columns.map((c) => {
    const th = h('th', { scope: 'col', class: c.className });
    if (c.sort) {
      const btn = h('button', { type: 'button', class: 'sort' }, c.label, h('span', { class: 'sort-icon', 'aria-hidden': 'true' }));
      btn.addEventListener('click', () => {
        st.dir = st.sort === c.id && st.dir === 'asc' ? 'desc' : 'asc';
        st.sort = c.id;
        st.page = 0;
        update();
      });
      th.append(btn);
    } else {
      th.append(c.hideLabel ? h('span', { class: 'visually-hidden' }, c.label) : c.label);
    }
    return th;
  });
  const tbody = h('tbody');
  const table = h('table', { class: 'stack data', id: tableId },
    h('thead', {}, h('tr', {}, allBox && h('th', { scope: 'col', class: 'col-select' }, allBox), heads)),
    tbody);
  const status = h('p', { class: 'table-status', role: 'status' });
  const prev = h('button', { type: 'button', class: 'btn btn-sm' }, 'Previous');
  const next = h('button', { type: 'button', class: 'btn btn-sm' }, 'Next');
  const pageNo = h('span', { class: 'hint' });
  prev.addEventListener('click', () => { st.page -= 1; renderBody(); });
  next.addEventListener('click', () => { st.page += 1; renderBody(); });
  const pager = h('nav', { class: 'pager', 'aria-label': `Pages of ${many}` }, prev, pageNo, next, sizeSel);

  const el = h('div', { class: 'data-table' },
    h('div', { class: 'table-tools' },
      h('div', { class: 'field search-field' }, h('label', { for: searchId }, opts.searchLabel), search),
      opts.toolbar),
    status,
    h('div', { class: 'table-wrap' }, table),
    pager);

  function pageRows() {
    const pages = Math.max(1, Math.ceil(view.length / st.size));
    st.page = Math.min(Math.max(0, st.page), pages - 1);
    return view.slice(st.page * st.size, (st.page + 1) * st.size);
  }

  function update() {
    const q = st.query.trim().toLowerCase();
    const filter = opts.filter;
    view = rows.filter((r) => (!q || r.text.includes(q)) && (!filter || filter(r.row)));
    const col = columns.find((c) => c.id === st.sort && c.sort);
    if (col) {
      const dir = st.dir === 'desc' ? -1 : 1;
      view.sort((a, b) => {
        const x = a.keys[col.id];
        const y = b.keys[col.id];
        const c = typeof x === 'number' && typeof y === 'number' ? x - y : collator.compare(String(x), String(y));
        return c * dir;
      });
    }
    for (const [i, c] of columns.entries()) {
      if (c.sort) heads[i].setAttribute('aria-sort', c.id !== st.sort ? 'none' : st.dir === 'desc' ? 'descending' : 'ascending');
    }
    renderBody();
  }

  function renderBody() {
    const shown = pageRows().map((r) => r.row);
    const pages = Math.max(1, Math.ceil(view.length / st.size));
    const n = (x) => x.toLocaleString();
    const from = view.length ? st.page * st.size + 1 : 0;
    status.textContent = !rows.length ? `No ${many} yet.`
      : !view.length ? `No ${many} match \u201c${st.query.trim()}\u201d (${n(rows.length)} in all).`
        : `Showing ${n(from)}\u2013${n(from + shown.length - 1)} of ${n(view.length)} ${view.length === 1 ? one : many}${view.length < rows.length ? ` (${n(rows.length)} in all)` : ''}.`;
    pageNo.textContent = `Page ${n(st.page + 1)} of ${n(pages)}`;
    prev.disabled = st.page === 0;
    next.disabled = st.page >= pages - 1;
    pager.hidden = view.length <= PAGE_SIZES[0] && st.page === 0;
    tbody.replaceChildren(...shown.map((row) => {
      const tr = h('tr', opts.rowAttrs?.(row) || {});
      if (selectable) {
        const box = selectable(row) && h('input', { type: 'checkbox', checked: chosen.has(opts.key(row)), 'aria-label': opts.selectLabel(row) });
        box?.addEventListener('change', () => { (box.checked ? chosen.add(opts.key(row)) : chosen.delete(opts.key(row))); syncAll(shown); opts.onSelect?.(chosen.size); });
        tr.append(h('td', { class: 'col-select', 'data-label': 'Select' }, box || null));
      }
      for (const c of columns) tr.append(h('td', { 'data-label': c.hideLabel ? null : c.label, class: c.className }, h('div', { class: 'cell' }, c.cell(row))));
      return tr;
    }));
    if (selectable) { syncAll(shown); opts.onSelect?.(chosen.size); }
  }

  function syncAll(shown) {
    const keys = shown.filter(selectable).map(opts.key);
    allBox.checked = keys.length > 0 && keys.every((k) => chosen.has(k));
    allBox.indeterminate = !allBox.checked && keys.some((k) => chosen.has(k));
    allBox.disabled = keys.length === 0;
  }

  return {
    el,
    search,
    setRows(list) {
      rows = list.map((row) => ({
        row,
        text: opts.text(row).toLowerCase(),
        keys: Object.fromEntries(columns.filter((c) => c.sort).map((c) => [c.id, c.sort(row) ?? ''])),
      }));
      const alive = new Set(list.map(opts.key));
      for (const k of [...chosen]) if (!alive.has(k)) chosen.delete(k);
      update();
    },
    refresh: update,
    selected: () => rows.map((r) => r.row).filter((r) => chosen.has(opts.key(r))),
    clearSelection() { chosen.clear(); renderBody(); },
    /** Focuses the first control of the row at index on this page (clamped), else the search box. */
    focusRow(index) {
      const trs = tbody.rows;
      const tr = trs[Math.min(index, trs.length - 1)];
      (tr?.querySelector('button, a, input') || search).focus();
    },
  };
}
