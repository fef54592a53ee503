import { describe, expect, it } from 'vitest';
import { syncedEntities } from '../../common/sync-types.js';
import { escapeHtml, previewPage, statusFragment, tenantPage } from './page.js';
import { OnboardingInputError, parseLanguage, parseMode, parseStartDate, parseTenantId } from './inputs.js';
import { findDuplicates, normaliseEmail, normaliseName, type TenantSettings } from './service.js';

const now = new Date('2026-11-27T15:00:00Z');
const tenant: TenantSettings = {
  tenantId: 'acme',
  name: 'Acme <Ltée>',
  startDate: '2024-01-01',
  syncLanguage: 'fr',
  defaultCustomerLanguage: 'en',
  mode: 'two_way',
};

describe('onboarding input checks', () => {
  it('takes the mode as qbsync mode does: one-way or two-way, and the underscore spellings for scripts', () => {
    expect(parseMode('one-way')).toBe('one_way');
    expect(parseMode('two-way')).toBe('two_way');
    expect(parseMode('one_way')).toBe('one_way');
    expect(parseMode('two_way')).toBe('two_way');
    expect(() => parseMode('both')).toThrow(OnboardingInputError);
    expect(() => parseMode('both')).toThrow('mode must be one-way or two-way, not "both"');
  });

  it('R2: a start date must be a real YYYY-MM-DD day, not in the future', () => {
    expect(parseStartDate('2024-02-29', now)).toBe('2024-02-29');
    expect(parseStartDate('2026-11-27', now)).toBe('2026-11-27');
    expect(() => parseStartDate('2026-11-28', now)).toThrow(/2026-11-28 is in the future; pick today \(2026-11-27\)/);
    expect(() => parseStartDate('2023-02-29', now)).toThrow(OnboardingInputError);
    expect(() => parseStartDate('27/11/2026', now)).toThrow(/not a date written YYYY-MM-DD/);
    expect(() => parseStartDate('1999-12-31', now)).toThrow(/before 2000-01-01/);
  });

  it('R3, R4: languages are fr or en; tenant ids are slugs', () => {
    expect(parseLanguage('en', 'language')).toBe('en');
    expect(() => parseLanguage('EN', 'sync language')).toThrow('sync language "EN" must be fr or en');
    expect(parseTenantId('plomberie-roy')).toBe('plomberie-roy');
    expect(() => parseTenantId('../etc')).toThrow(/tenant id/);
  });

  it('R25: a refused value is quoted in its error cut to 40 characters, however long it was', () => {
    const long = 'x'.repeat(60_000);
    for (const check of [
      () => parseTenantId(long),
      () => parseStartDate(long, now),
      () => parseLanguage(long, 'sync language'),
    ]) {
      expect(check).toThrow(OnboardingInputError);
      try {
        check();
      } catch (error) {
        expect((error as Error).message.length).toBeLessThan(200);
      }
    }
  });
});

describe('R6: likely duplicates', () => {
  it('normalises names (case, accents, punctuation, legal suffixes) and emails (first of a list)', () => {
    expect(normaliseName('Plomberie Roy Inc.')).toBe('plomberie roy');
    expect(normaliseName('PLOMBERIE  ROY ltée')).toBe('plomberie roy');
    expect(normaliseName('Électricité Côté & Fils')).toBe('electricite cote et fils');
    expect(normaliseName('Inc')).toBe('inc');
    expect(normaliseEmail(' Info@Roy.example, autre@x.example')).toBe('info@roy.example');
    expect(normaliseEmail('not an email')).toBeNull();
  });

  it('groups customers sharing a normalised name or an email, and nothing else', () => {
    const groups = findDuplicates([
      { id: '1', displayName: 'Plomberie Roy Inc.', email: 'info@roy.example' },
      { id: '2', displayName: 'plomberie roy', email: null },
      { id: '3', displayName: 'Roy & Fils', email: 'info@roy.example' },
      { id: '4', displayName: 'Unique', email: 'u@x.example' },
    ]);
    expect(groups.map((g) => [g.reason, g.key, g.customers.map((c) => c.id)])).toEqual([
      ['name', 'plomberie roy', ['1', '2']],
      ['email', 'info@roy.example', ['1', '3']],
    ]);
  });
});

describe('onboarding page', () => {
  it('R3: labels in French and English, values escaped, inputs labelled', () => {
    const fr = tenantPage({
      language: 'fr',
      tenant,
      connection: { realmId: '123', needsReauth: false },
      today: '2026-11-27',
      running: false,
      csrfToken: 'token-of-the-session',
    });
    expect(fr).toContain('<html lang="fr">');
    expect(fr).toContain('<input type="hidden" name="csrf" value="token-of-the-session">');
    expect(fr).toContain('Acme &lt;Ltée&gt;');
    expect(fr).not.toContain('<Ltée>');
    expect(fr).toMatch(/<label for="start-date">Date de début/);
    expect(fr).toContain('max="2026-11-27"');
    const en = tenantPage({
      language: 'en',
      tenant,
      connection: undefined,
      today: '2026-11-27',
      running: false,
      csrfToken: 'tok',
    });
    expect(en).toContain('Connect to QuickBooks');
    expect(en).not.toContain('start-date');
    expect(escapeHtml(`"'<&>`)).toBe('&quot;&#39;&lt;&amp;&gt;');
  });

  it('R6: the preview lists every entity count and the duplicates', () => {
    const counts = Object.fromEntries(syncedEntities.map((e, i) => [e, i * 10])) as Record<
      (typeof syncedEntities)[number],
      number
    >;
    const html = previewPage(
      'en',
      tenant,
      {
        startDate: '2024-01-01',
        counts,
        duplicates: [
          {
            reason: 'email',
            key: 'a@b.example',
            customers: [{ id: '1', displayName: '<b>X</b>', email: 'a@b.example' }],
          },
        ],
        duplicateScanTruncated: false,
      },
      'tok',
    );
    for (const entity of syncedEntities) expect(html).toContain(`data-entity="${entity}"`);
    expect(html).toContain('Same email &quot;a@b.example&quot;:');
    expect(html).toContain('&lt;b&gt;X&lt;/b&gt;');
    expect(html).toContain('Start the sync');
  });

  it('R5: the status shows the workflow state, or says it has not started', () => {
    expect(
      statusFragment('fr', { workflowId: 'w', execution: 'NOT_STARTED', status: undefined, queryError: undefined }),
    ).toContain('La synchronisation n’est pas démarrée.');
  });
});
