// The installation's account (GET/PUT /account): its id and the trust setting.

import { get, put } from '../api.js';
import { h, button, busy, card, pageHead, callout, showError, clearError, toast } from '../ui.js';
import { markClean } from '../guard.js';

export async function render(main, ctx) {
  main.replaceChildren(pageHead('Account', 'The account that owns this installation\u2019s deployments.'),
    h('p', { class: 'loading' }, 'Loading the account\u2026'));
  const account = await get('/account');
  const editable = ctx.can('update-current-account');
  const trust = account.trust || { trust_all: true };

  const toggle = h('input', { type: 'checkbox', role: 'switch', id: 'trust-all', name: 'trust_all', checked: trust.trust_all === true, disabled: !editable, 'data-field': 'trust.trust_all' });
  const state = h('span', { class: 'badge' });
  const showState = (on) => {
    state.textContent = on ? 'On' : 'Off';
    state.className = on ? 'badge badge-success' : 'badge';
  };
  showState(toggle.checked);
  const errors = h('div');
  const save = button('Save changes', { kind: 'primary', type: 'submit', disabled: true });
  toggle.addEventListener('change', () => { save.disabled = toggle.checked === (trust.trust_all === true); });

  const form = h('form', { 'aria-label': 'Trust settings', 'data-guard': '' },
    h('label', { class: 'switch', for: 'trust-all' }, toggle,
      h('span', {}, h('strong', {}, 'Trust all deployments in this account '), state)),
    h('p', { class: 'hint' }, 'When on, every cluster in this account trusts every other cluster in it by default (for cross-cluster search and replication). Turn it off to choose trust per deployment.'),
    errors,
    editable ? h('div', { class: 'actions' }, save) : callout('info', null, h('p', {}, 'Only platform admins can change the trust setting. You have read-only access.')));

  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    clearError(errors, form);
    try {
      const updated = await busy(save, () => put('/account', { trust: { ...trust, trust_all: toggle.checked } }));
      Object.assign(trust, updated.trust);
      showState(trust.trust_all === true);
      save.disabled = true;
      markClean(form);
      toast('Trust setting saved.');
    } catch (err) {
      showError(errors, err, form);
    }
  });

  main.replaceChildren(
    pageHead('Account', 'The account that owns this installation\u2019s deployments.'),
    card('Details', null, h('dl', { class: 'facts' },
      h('dt', {}, 'Account ID'), h('dd', {}, h('code', { 'data-testid': 'account-id' }, account.id)))),
    card('Trust', 'How the clusters of this account trust each other.', form));
}
