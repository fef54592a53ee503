import { describePassRecords, syncedEntities, type SyncedEntity } from '../../common/sync-types.js';
import type { Language } from './inputs.js';
import type { Preview, SyncStatusView, TenantSettings } from './service.js';

/**
 * The onboarding page, server-rendered, in French and English (the brief's ten steps): plain HTML
 * forms that work without JavaScript; the status view refreshes itself with a small script (and a
 * <noscript> meta refresh). Every value shown is escaped.
 */

const labels = {
  fr: {
    title: 'Synchronisation QuickBooks',
    colon: '\u00a0: ',
    otherLanguage: 'English',
    tenant: 'Compte',
    chooseTenant: 'Identifiant du compte',
    open: 'Ouvrir',
    step1: '1. Connexion à QuickBooks',
    connected: (realm: string) => `Connecté à l’entreprise QuickBooks ${realm}.`,
    notConnected: 'Ce compte n’est pas encore connecté à QuickBooks.',
    needsReauth: 'La connexion à QuickBooks a expiré ou a été révoquée : reconnectez-vous.',
    connect: 'Se connecter à QuickBooks',
    reconnect: 'Se reconnecter à QuickBooks',
    cleanupNote:
      'Si vous désirez faire du ménage dans votre compte QuickBooks (clients en double, clients à désactiver), faites-le avant de démarrer votre première synchronisation.',
    step2: '2. Réglages de la synchronisation',
    startDate: 'Date de début (clients et opportunités à partir de cette date)',
    syncLanguage: 'Langue de la synchronisation (stades de vente, libellés)',
    defaultLanguage: 'Langue par défaut des nouveaux clients créés par la synchronisation',
    french: 'Français',
    english: 'Anglais',
    seePreview: 'Voir l’aperçu',
    step3: '3. Aperçu de la première synchronisation',
    since: (date: string) => `Depuis le ${date}`,
    entity: 'Type',
    count: 'Nombre',
    entities: {
      Item: 'Produits, services et catégories de revenu',
      Customer: 'Clients',
      Estimate: 'Estimations',
      Invoice: 'Factures',
      CreditMemo: 'Notes de crédit',
      SalesReceipt: 'Reçus de vente',
    } satisfies Record<SyncedEntity, string>,
    duplicates: 'Doublons probables',
    noDuplicates: 'Aucun doublon probable trouvé.',
    duplicatesNote:
      'Ces clients semblent en double. Fusionner dans QuickBooks après la synchronisation crée des doublons dans le CRM : désactivez ou corrigez-les dans QuickBooks avant de commencer.',
    byName: 'Même nom',
    byEmail: 'Même courriel',
    quoted: (what: string, key: string) => `${what} « ${key} » :`,
    truncated: 'Seule une partie des clients a été examinée.',
    changeSettings: 'Modifier les réglages',
    startSync: 'Commencer la synchronisation',
    step4: '4. État de la synchronisation',
    execution: 'Flux de travail',
    phase: 'Phase',
    phases: { backfill: 'Chargement initial', incremental: 'Synchronisation continue' } as Record<string, string>,
    mode: 'Sens',
    modes: { two_way: 'Bidirectionnelle', one_way: 'QuickBooks vers le CRM seulement' } as Record<string, string>,
    paused: 'En pause',
    yes: 'Oui',
    no: 'Non',
    progress: 'Progression',
    openErrors: 'Erreurs à traiter',
    lastPass: 'Dernier passage',
    noStatus: 'L’état n’est pas encore disponible',
    notStarted: 'La synchronisation n’est pas démarrée.',
    viewStatus: 'Voir l’état de la synchronisation',
    error: 'Erreur',
    back: 'Retour',
  },
  en: {
    title: 'QuickBooks sync',
    colon: ': ',
    otherLanguage: 'Français',
    tenant: 'Account',
    chooseTenant: 'Account id',
    open: 'Open',
    step1: '1. Connect to QuickBooks',
    connected: (realm: string) => `Connected to QuickBooks company ${realm}.`,
    notConnected: 'This account is not connected to QuickBooks yet.',
    needsReauth: 'The QuickBooks connection expired or was revoked: connect again.',
    connect: 'Connect to QuickBooks',
    reconnect: 'Reconnect to QuickBooks',
    cleanupNote:
      'If you want to clean up your QuickBooks company (duplicate customers, customers to make inactive), do it before you start your first sync.',
    step2: '2. Sync settings',
    startDate: 'Start date (customers and opportunities from this date on)',
    syncLanguage: 'Sync language (sales stages, labels)',
    defaultLanguage: 'Default language of new customers the sync creates',
    french: 'French',
    english: 'English',
    seePreview: 'See the preview',
    step3: '3. Preview of the first sync',
    since: (date: string) => `Since ${date}`,
    entity: 'Type',
    count: 'Count',
    entities: {
      Item: 'Products, services and revenue categories',
      Customer: 'Customers',
      Estimate: 'Estimates',
      Invoice: 'Invoices',
      CreditMemo: 'Credit notes',
      SalesReceipt: 'Sales receipts',
    } satisfies Record<SyncedEntity, string>,
    duplicates: 'Likely duplicates',
    noDuplicates: 'No likely duplicates found.',
    duplicatesNote:
      'These customers look like duplicates. Merging them in QuickBooks after the sync creates duplicates in the CRM: make them inactive or fix them in QuickBooks before you start.',
    byName: 'Same name',
    byEmail: 'Same email',
    quoted: (what: string, key: string) => `${what} "${key}":`,
    truncated: 'Only part of the customers were examined.',
    changeSettings: 'Change the settings',
    startSync: 'Start the sync',
    step4: '4. Sync status',
    execution: 'Workflow',
    phase: 'Phase',
    phases: { backfill: 'Initial load', incremental: 'Ongoing sync' } as Record<string, string>,
    mode: 'Direction',
    modes: { two_way: 'Two-way', one_way: 'QuickBooks to CRM only' } as Record<string, string>,
    paused: 'Paused',
    yes: 'Yes',
    no: 'No',
    progress: 'Progress',
    openErrors: 'Open errors',
    lastPass: 'Last pass',
    noStatus: 'The status is not available yet',
    notStarted: 'The sync has not started.',
    viewStatus: 'See the sync status',
    error: 'Error',
    back: 'Back',
  },
};

export type Labels = (typeof labels)['fr'];

export function labelsFor(language: Language): Labels {
  return labels[language];
}

export function escapeHtml(value: unknown): string {
  return String(value).replace(
    /[&<>"']/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] as string,
  );
}

const css = `body{font:16px/1.5 system-ui,sans-serif;max-width:46rem;margin:2rem auto;padding:0 1rem;color:#1b1b1b}
h1{font-size:1.6rem}h2{font-size:1.2rem;margin-top:2rem}label{display:block;margin:.8rem 0 .2rem;font-weight:600}
input,select,button{font:inherit;padding:.35rem .5rem}button{background:#2c7a2c;color:#fff;border:0;border-radius:4px;padding:.5rem 1rem;cursor:pointer}
button:focus,a:focus,input:focus,select:focus{outline:3px solid #1a5fb4;outline-offset:2px}
table{border-collapse:collapse}th,td{text-align:left;padding:.25rem .8rem;border-bottom:1px solid #ccc}td.n{text-align:right}
.note{background:#fff6d6;padding:.6rem .8rem;border-left:4px solid #c49000}[role=alert]{background:#fde7e7;padding:.6rem .8rem;border-left:4px solid #b00}`;

export function layout(
  language: Language,
  title: string,
  body: string,
  options: { otherLanguageHref?: string; head?: string } = {},
): string {
  const t = labelsFor(language);
  const other = options.otherLanguageHref
    ? `<p><a href="${escapeHtml(options.otherLanguageHref)}" lang="${language === 'fr' ? 'en' : 'fr'}">${escapeHtml(t.otherLanguage)}</a></p>`
    : '';
  return `<!doctype html><html lang="${language}"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>${escapeHtml(title)}</title><style>${css}</style>${options.head ?? ''}</head><body><header>${other}<h1>${escapeHtml(title)}</h1></header><main>${body}</main></body></html>`;
}

export function tenantPickerPage(language: Language): string {
  const t = labelsFor(language);
  return layout(
    language,
    t.title,
    `<form method="get" action="/onboarding"><label for="tenant">${escapeHtml(t.chooseTenant)}</label><input id="tenant" name="tenant" required pattern="[a-z0-9][a-z0-9_\\-]{0,62}" autocomplete="off"> <input type="hidden" name="lang" value="${language}"><button type="submit">${escapeHtml(t.open)}</button></form>`,
    { otherLanguageHref: `/?lang=${language === 'fr' ? 'en' : 'fr'}` },
  );
}

export interface TenantPageModel {
  readonly language: Language;
  readonly tenant: TenantSettings;
  readonly connection: { realmId: string; needsReauth: boolean } | undefined;
  readonly today: string;
  readonly running: boolean;
  /** The synchronizer token every form of the page posts back (issue 12, point 2). */
  readonly csrfToken: string;
}

function csrfInput(token: string): string {
  return `<input type="hidden" name="csrf" value="${escapeHtml(token)}">`;
}

function base(tenantId: string): string {
  return `/onboarding/${encodeURIComponent(tenantId)}`;
}

function languageOptions(t: Labels, selected: Language): string {
  return (['fr', 'en'] as const)
    .map(
      (code) =>
        `<option value="${code}"${code === selected ? ' selected' : ''}>${escapeHtml(code === 'fr' ? t.french : t.english)}</option>`,
    )
    .join('');
}

/** R7/R8: customer data both ways, or QuickBooks to the CRM only. */
function modeOptions(t: ReturnType<typeof labelsFor>, selected: string): string {
  return ['two_way', 'one_way']
    .map(
      (mode) =>
        `<option value="${mode}"${mode === selected ? ' selected' : ''}>${escapeHtml(t.modes[mode] ?? mode)}</option>`,
    )
    .join('');
}

/** Steps 1 (connect) and 2 (start date, languages, direction). */
export function tenantPage(model: TenantPageModel): string {
  const { language, tenant, connection } = model;
  const t = labelsFor(language);
  const path = base(tenant.tenantId);
  const q = `?lang=${language}`;
  const csrf = csrfInput(model.csrfToken);
  const step1 = connection
    ? connection.needsReauth
      ? `<p role="alert">${escapeHtml(t.needsReauth)}</p><form method="post" action="${path}/connect${q}">${csrf}<button type="submit">${escapeHtml(t.reconnect)}</button></form>`
      : `<p id="connection-status">${escapeHtml(t.connected(connection.realmId))}</p>`
    : `<p class="note">${escapeHtml(t.cleanupNote)}</p><p id="connection-status">${escapeHtml(t.notConnected)}</p><form method="post" action="${path}/connect${q}">${csrf}<button type="submit">${escapeHtml(t.connect)}</button></form>`;
  const step2 =
    connection && !connection.needsReauth
      ? `<section aria-labelledby="step2"><h2 id="step2">${escapeHtml(t.step2)}</h2><form method="post" action="${path}/settings${q}">${csrf}
<label for="start-date">${escapeHtml(t.startDate)}</label><input type="date" id="start-date" name="startDate" required max="${model.today}" min="2000-01-01" value="${escapeHtml(tenant.startDate)}">
<label for="sync-language">${escapeHtml(t.syncLanguage)}</label><select id="sync-language" name="syncLanguage">${languageOptions(t, tenant.syncLanguage)}</select>
<label for="default-language">${escapeHtml(t.defaultLanguage)}</label><select id="default-language" name="defaultCustomerLanguage">${languageOptions(t, tenant.defaultCustomerLanguage)}</select>
<label for="mode">${escapeHtml(t.mode)}</label><select id="mode" name="mode">${modeOptions(t, tenant.mode)}</select>
<p><button type="submit">${escapeHtml(t.seePreview)}</button></p></form></section>`
      : '';
  const status = model.running ? `<p><a href="${path}/status${q}">${escapeHtml(t.viewStatus)}</a></p>` : '';
  return layout(
    language,
    `${t.title} · ${tenant.name}`,
    `${status}<section aria-labelledby="step1"><h2 id="step1">${escapeHtml(t.step1)}</h2>${step1}</section>${step2}`,
    { otherLanguageHref: `${path}?lang=${language === 'fr' ? 'en' : 'fr'}` },
  );
}

/** Step 3: what the first sync would bring (R6), and the start button (R5). */
export function previewPage(language: Language, tenant: TenantSettings, preview: Preview, csrfToken: string): string {
  const t = labelsFor(language);
  const path = base(tenant.tenantId);
  const q = `?lang=${language}`;
  const rows = syncedEntities
    .map(
      (entity) =>
        `<tr data-entity="${entity}"><th scope="row">${escapeHtml(t.entities[entity])}</th><td class="n">${preview.counts[entity]}</td></tr>`,
    )
    .join('');
  const duplicates =
    preview.duplicates.length === 0
      ? `<p id="no-duplicates">${escapeHtml(t.noDuplicates)}</p>`
      : `<p class="note">${escapeHtml(t.duplicatesNote)}</p><ul id="duplicates">${preview.duplicates
          .map(
            (group) =>
              `<li>${escapeHtml(t.quoted(group.reason === 'name' ? t.byName : t.byEmail, group.key))}<ul>${group.customers
                .map(
                  (c) =>
                    `<li>${escapeHtml(c.displayName)} (#${escapeHtml(c.id)}${c.email ? `, ${escapeHtml(c.email)}` : ''})</li>`,
                )
                .join('')}</ul></li>`,
          )
          .join('')}</ul>`;
  const settings = `<p>${escapeHtml(t.syncLanguage)}${t.colon}<strong>${escapeHtml(tenant.syncLanguage === 'fr' ? t.french : t.english)}</strong><br>${escapeHtml(t.defaultLanguage)}${t.colon}<strong>${escapeHtml(tenant.defaultCustomerLanguage === 'fr' ? t.french : t.english)}</strong></p>`;
  return layout(
    language,
    `${t.title} · ${tenant.name}`,
    `<section aria-labelledby="step3"><h2 id="step3">${escapeHtml(t.step3)}</h2><p>${escapeHtml(t.since(preview.startDate))}</p>${settings}
<table id="counts"><thead><tr><th scope="col">${escapeHtml(t.entity)}</th><th scope="col">${escapeHtml(t.count)}</th></tr></thead><tbody>${rows}</tbody></table>
<h3>${escapeHtml(t.duplicates)}</h3>${duplicates}${preview.duplicateScanTruncated ? `<p>${escapeHtml(t.truncated)}</p>` : ''}
<form method="post" action="${path}/start${q}">${csrfInput(csrfToken)}<p><button type="submit">${escapeHtml(t.startSync)}</button></p></form>
<p><a href="${path}${q}">${escapeHtml(t.changeSettings)}</a></p></section>`,
    { otherLanguageHref: `${path}/preview?lang=${language === 'fr' ? 'en' : 'fr'}` },
  );
}

/** The status block, also returned alone for the page's refresh. */
export function statusFragment(language: Language, view: SyncStatusView): string {
  const t = labelsFor(language);
  const rows: [string, string][] = [[t.execution, view.execution]];
  const status = view.status;
  if (status) {
    rows.push([t.phase, t.phases[status.phase] ?? status.phase]);
    rows.push([t.mode, t.modes[status.mode] ?? status.mode]);
    rows.push([t.paused, status.paused ? `${t.yes}${status.pausedReason ? ` (${status.pausedReason})` : ''}` : t.no]);
    const progress = syncedEntities
      .map((entity) => {
        const p = status.entities[entity];
        return p ? `${t.entities[entity]}${t.colon}${p.done}${p.total !== null ? ` / ${p.total}` : ''}` : '';
      })
      .filter(Boolean)
      .join(' · ');
    rows.push([t.progress, progress]);
    rows.push([t.openErrors, String(status.openErrors)]);
    if (status.lastPass)
      rows.push([
        t.lastPass,
        `${status.lastPass.kind} ${status.lastPass.finishedAt} (${describePassRecords(status.lastPass)})`,
      ]);
  } else if (view.execution === 'NOT_STARTED') {
    rows.push([t.phase, t.notStarted]);
  } else if (view.queryError) {
    rows.push([t.phase, `${t.noStatus}: ${view.queryError}`]);
  }
  return `<dl id="status-list">${rows.map(([k, v]) => `<dt>${escapeHtml(k)}</dt><dd>${escapeHtml(v)}</dd>`).join('')}</dl>`;
}

export function statusPage(language: Language, tenant: TenantSettings, view: SyncStatusView): string {
  const t = labelsFor(language);
  const path = base(tenant.tenantId);
  const script = `<script>(()=>{const box=document.getElementById('status');setInterval(async()=>{try{const r=await fetch(${JSON.stringify(`${path}/status-fragment?lang=${language}`)});if(r.ok)box.innerHTML=await r.text();}catch{}},3000);})();</script>`;
  return layout(
    language,
    `${t.title} · ${tenant.name}`,
    `<section aria-labelledby="step4"><h2 id="step4">${escapeHtml(t.step4)}</h2><div id="status" aria-live="polite">${statusFragment(language, view)}</div><p><a href="${path}?lang=${language}">${escapeHtml(t.back)}</a></p></section>${script}`,
    {
      otherLanguageHref: `${path}/status?lang=${language === 'fr' ? 'en' : 'fr'}`,
      head: '<noscript><meta http-equiv="refresh" content="5"></noscript>',
    },
  );
}

export function errorPage(language: Language, message: string, backHref: string): string {
  const t = labelsFor(language);
  return layout(
    language,
    t.title,
    `<p role="alert">${escapeHtml(t.error)}${t.colon}${escapeHtml(message)}</p><p><a href="${escapeHtml(backHref)}">${escapeHtml(t.back)}</a></p>`,
  );
}
