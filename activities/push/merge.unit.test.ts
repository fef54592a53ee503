import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { customerFieldNames, qboCreateBody, qboFieldChanges, type CustomerFields } from './customer-fields.js';
import { mergeCustomer } from './merge.js';

const base: CustomerFields = {
  companyName: 'Plomberie Roy',
  website: 'https://roy.example',
  addressLines: ['12 rue Principale'],
  city: 'Québec',
  province: 'QC',
  postalCode: 'G1R 4P5',
  country: 'Canada',
  title: null,
  fullName: 'Anne Roy',
  phone1: '418 555-0001',
  phone2: null,
  fax: null,
  mobile: '418 555-0002',
  email: 'anne@roy.example',
};

const none = new Set<string>();

describe('R7: the three-way customer merge', () => {
  it('a field changed on one side only goes to the other side', () => {
    const outcome = mergeCustomer({
      base,
      crm: { ...base, city: 'Lévis' },
      qbo: { ...base, phone1: '418 555-9999' },
      policy: 'qbo_wins',
      cleared: none,
    });
    expect(outcome.merged).toEqual({ ...base, city: 'Lévis', phone1: '418 555-9999' });
    expect([...outcome.toQbo]).toEqual(['city']);
    expect([...outcome.toCrm]).toEqual(['phone1']);
    expect(outcome.conflicts).toEqual([]);
  });

  it('a field changed on both sides follows the policy and is a conflict with both values', () => {
    const input = { base, crm: { ...base, city: 'Lévis' }, qbo: { ...base, city: 'Sillery' }, cleared: none };
    const qboWins = mergeCustomer({ ...input, policy: 'qbo_wins' });
    expect(qboWins.merged.city).toBe('Sillery');
    expect(qboWins.conflicts).toEqual([
      { field: 'city', base: 'Québec', crm: 'Lévis', qbo: 'Sillery', applied: 'qbo' },
    ]);
    const crmWins = mergeCustomer({ ...input, policy: 'crm_wins' });
    expect(crmWins.merged.city).toBe('Lévis');
    expect([...crmWins.toQbo]).toEqual(['city']);
    expect(crmWins.conflicts[0]?.applied).toBe('crm');
  });

  it('the same change on both sides is no conflict', () => {
    const outcome = mergeCustomer({
      base,
      crm: { ...base, city: 'Lévis' },
      qbo: { ...base, city: 'Lévis' },
      policy: 'qbo_wins',
      cleared: none,
    });
    expect(outcome.conflicts).toEqual([]);
    expect(outcome.toQbo.size + outcome.toCrm.size).toBe(0);
  });

  it('an empty CRM value clears QuickBooks only when a user cleared it on purpose', () => {
    const crm = { ...base, mobile: null, fax: null };
    const accidental = mergeCustomer({ base, crm, qbo: base, policy: 'crm_wins', cleared: none });
    expect(accidental.merged.mobile).toBe('418 555-0002');
    expect([...accidental.toCrm]).toEqual(['mobile']);
    expect(accidental.toQbo.size).toBe(0);
    const deliberate = mergeCustomer({ base, crm, qbo: base, policy: 'qbo_wins', cleared: new Set(['mobile']) });
    expect(deliberate.merged.mobile).toBeNull();
    expect([...deliberate.toQbo]).toEqual(['mobile']);
  });

  it('QuickBooks clearing a field is a QuickBooks user’s change and reaches the CRM', () => {
    const outcome = mergeCustomer({
      base,
      crm: base,
      qbo: { ...base, website: null },
      policy: 'crm_wins',
      cleared: none,
    });
    expect(outcome.merged.website).toBeNull();
    expect([...outcome.toCrm]).toEqual(['website']);
  });

  it('without a base (a link synced before two-way) the CRM is taken as unchanged', () => {
    const outcome = mergeCustomer({
      base: null,
      crm: { ...base, city: 'Lévis' },
      qbo: base,
      policy: 'crm_wins',
      cleared: none,
    });
    expect(outcome.merged).toEqual(base);
    expect(outcome.toQbo.size).toBe(0);
  });

  it('property: merging again after applying the merge to both sides changes nothing (convergence, no echo)', () => {
    const value = fc.oneof(fc.constant(null), fc.constantFrom('a', 'b', 'c', ' '));
    const fields = fc.record(
      Object.fromEntries(
        customerFieldNames.map((name) => [
          name,
          name === 'addressLines'
            ? fc.array(fc.constantFrom('1 rue A', '2 rue B'), { maxLength: 2 })
            : name === 'companyName'
              ? fc.constantFrom('A inc.', 'B inc.')
              : value,
        ]),
      ),
    ) as unknown as fc.Arbitrary<CustomerFields>;
    fc.assert(
      fc.property(
        fields,
        fields,
        fields,
        fc.constantFrom('qbo_wins' as const, 'crm_wins' as const),
        fc.subarray([...customerFieldNames]),
        (baseFields, crm, qbo, policy, cleared) => {
          const first = mergeCustomer({ base: baseFields, crm, qbo, policy, cleared: new Set(cleared) });
          const again = mergeCustomer({
            base: first.merged,
            crm: first.merged,
            qbo: first.merged,
            policy,
            cleared: none,
          });
          expect(again.toQbo.size + again.toCrm.size + again.conflicts.length).toBe(0);
          // Every field both sides changed to different values is a recorded conflict.
          for (const conflict of first.conflicts)
            expect(first.merged[conflict.field]).toEqual(conflict[conflict.applied]);
        },
      ),
      { numRuns: 500 },
    );
  });
});

describe('R7: QuickBooks bodies of a push', () => {
  it('a create sends every filled field, named by the company', () => {
    expect(qboCreateBody({ ...base, mobile: null })).toEqual({
      DisplayName: 'Plomberie Roy',
      CompanyName: 'Plomberie Roy',
      WebAddr: { URI: 'https://roy.example' },
      BillAddr: {
        Line1: '12 rue Principale',
        City: 'Québec',
        CountrySubDivisionCode: 'QC',
        PostalCode: 'G1R 4P5',
        Country: 'Canada',
      },
      GivenName: 'Anne',
      FamilyName: 'Roy',
      PrimaryPhone: { FreeFormNumber: '418 555-0001' },
      PrimaryEmailAddr: { Address: 'anne@roy.example' },
    });
  });

  it('a sparse update sends the changed fields only; a rename follows the DisplayName only when the two agreed', () => {
    const renamed = { ...base, companyName: 'Roy et fils' };
    expect(
      qboFieldChanges(renamed, new Set(['companyName', 'mobile'] as const), { ...base, displayName: 'Plomberie Roy' }),
    ).toEqual({ CompanyName: 'Roy et fils', DisplayName: 'Roy et fils', Mobile: { FreeFormNumber: '418 555-0002' } });
    expect(
      qboFieldChanges(renamed, new Set(['companyName'] as const), { ...base, displayName: 'Roy (plomberie)' }),
    ).toEqual({
      CompanyName: 'Roy et fils',
    });
  });
});
