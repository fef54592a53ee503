/**
 * The seeded, deterministic company generator: French and English Canadian customers (accents,
 * apostrophes, provinces, postal codes, every kind of phone, comma-separated emails, sub-customers),
 * items under categories (some categories inactive), and estimates in every TxnStatus, invoices
 * linked to estimates, credit memos and sales receipts with shipping, discount, subtotal and tax
 * lines. LastUpdatedTime values spread over years with bulk-import bursts in one second.
 * Transaction bodies are built on first read from a per-record seed, so they cost nothing until used.
 */
import { mixSeed, Prng } from './prng.js';
import type { Company } from './store.js';
import { isObject, type Json, type Row } from './store.js';
import { localDate } from './time.js';

export interface GenerateOptions {
  readonly seed: number;
  readonly customers: number;
  readonly transactions: number;
  readonly items: number;
  /** The generator's "now": records are spread over the six years before it. */
  readonly now: number;
}

const FIRST_FR = [
  'Émilie',
  'Jean-François',
  'Marie-Ève',
  'Frédéric',
  'Geneviève',
  'Benoît',
  'Hélène',
  'Stéphane',
  'Josée',
  'Raphaël',
  'Chloé',
  'Mathieu',
  'Noémie',
  'Félix',
  'Anaïs',
  'Léa',
  'Gaétan',
  'Réjean',
  'Sylvie',
  'André',
];
const FIRST_EN = [
  'Emily',
  'James',
  'Olivia',
  'Liam',
  'Sarah',
  'Michael',
  'Jessica',
  'Ryan',
  'Megan',
  'Connor',
  'Ashley',
  'Tyler',
  'Hannah',
  'Owen',
  'Brianna',
  'Graham',
  'Fiona',
  'Declan',
  'Nora',
  'Colin',
];
const LAST_FR = [
  'Tremblay',
  'Gagnon',
  'Côté',
  'Bélanger',
  'Lévesque',
  'Bouchard',
  'Gauthier',
  'Morin',
  'Lavoie',
  'Fortin',
  'Gagné',
  'Ouellet',
  'Pelletier',
  'Bergeron',
  "D'Amours",
  "L'Heureux",
  'Paquette',
  'Girard',
  'Simard',
  'Dubé',
  'Poirier',
  'Beaulieu',
  'Cloutier',
  'Ménard',
  'Thériault',
];
const LAST_EN = [
  "O'Brien",
  'Smith',
  'MacDonald',
  'Campbell',
  'Wilson',
  'Thompson',
  'Anderson',
  'Taylor',
  'Clarke',
  'Stewart',
  "O'Neil",
  'Murphy',
  'Fraser',
  'McKenzie',
  'Robertson',
  'Reid',
  'Sinclair',
  'Walsh',
  'Doyle',
  'Kennedy',
];
const COMPANY_FR = [
  (l: string) => `Les Entreprises ${l} inc.`,
  (l: string) => `${l} & Fils ltée`,
  (l: string) => `Construction ${l}`,
  (l: string) => `Boulangerie chez ${l}`,
  (l: string) => `Ferme ${l} S.E.N.C.`,
  (l: string) => `Garage ${l} enr.`,
  (l: string) => `Plomberie ${l} et Associés`,
  (l: string) => `Rénovations L'Étoile ${l}`,
];
const COMPANY_EN = [
  (l: string) => `${l} Plumbing Ltd.`,
  (l: string) => `${l}'s Hardware`,
  (l: string) => `${l} & Sons Contracting`,
  (l: string) => `Northern ${l} Logistics Inc.`,
  (l: string) => `${l} Family Dental`,
  (l: string) => `Maple ${l} Landscaping`,
  (l: string) => `${l} Electric Co.`,
];
const TITLES = ['M.', 'Mme', 'Mr.', 'Ms.', 'Dr', 'Me'];
interface City {
  readonly city: string;
  readonly prov: string;
  readonly postal: string;
  readonly area: string;
  readonly fr: boolean;
}
const CITIES: readonly City[] = [
  { city: 'Montréal', prov: 'QC', postal: 'H2X', area: '514', fr: true },
  { city: 'Québec', prov: 'QC', postal: 'G1R', area: '418', fr: true },
  { city: 'Laval', prov: 'QC', postal: 'H7N', area: '450', fr: true },
  { city: 'Gatineau', prov: 'QC', postal: 'J8X', area: '819', fr: true },
  { city: 'Trois-Rivières', prov: 'QC', postal: 'G9A', area: '819', fr: true },
  { city: 'Saint-Jérôme', prov: 'QC', postal: 'J7Z', area: '450', fr: true },
  { city: 'Lévis', prov: 'QC', postal: 'G6V', area: '418', fr: true },
  { city: 'Toronto', prov: 'ON', postal: 'M5H', area: '416', fr: false },
  { city: 'Ottawa', prov: 'ON', postal: 'K1P', area: '613', fr: false },
  { city: 'Mississauga', prov: 'ON', postal: 'L5B', area: '905', fr: false },
  { city: 'Sudbury', prov: 'ON', postal: 'P3E', area: '705', fr: false },
  { city: 'Moncton', prov: 'NB', postal: 'E1C', area: '506', fr: true },
  { city: 'Halifax', prov: 'NS', postal: 'B3J', area: '902', fr: false },
  { city: 'Winnipeg', prov: 'MB', postal: 'R3C', area: '204', fr: false },
  { city: 'Calgary', prov: 'AB', postal: 'T2P', area: '403', fr: false },
  { city: 'Vancouver', prov: 'BC', postal: 'V6B', area: '604', fr: false },
];
const STREETS_FR = [
  'rue Saint-Denis',
  'boulevard René-Lévesque Ouest',
  'chemin de la Côte-des-Neiges',
  "rue de l'Église",
  'avenue du Parc',
  'rang Saint-Joseph',
  'rue Sainte-Catherine Est',
];
const STREETS_EN = [
  'King Street West',
  'Queen Street',
  'Bank Street',
  'Portage Avenue',
  'Granville Street',
  'Main Street',
  "St. John's Road",
];
const LETTERS = 'ABCEGHJKLMNPRSTVWXYZ';

/** Sales tax per province: the TaxCode a line carries and the rates it applies. */
const TAX: Record<string, { code: string; rates: { id: string; percent: number }[] }> = {
  QC: {
    code: '7',
    rates: [
      { id: '1', percent: 5 },
      { id: '2', percent: 9.975 },
    ],
  },
  ON: { code: '8', rates: [{ id: '3', percent: 13 }] },
  NB: { code: '9', rates: [{ id: '4', percent: 15 }] },
  NS: { code: '9', rates: [{ id: '4', percent: 15 }] },
  BC: {
    code: '10',
    rates: [
      { id: '1', percent: 5 },
      { id: '5', percent: 7 },
    ],
  },
  AB: { code: '11', rates: [{ id: '1', percent: 5 }] },
  MB: {
    code: '12',
    rates: [
      { id: '1', percent: 5 },
      { id: '6', percent: 7 },
    ],
  },
};

const CATEGORIES: { name: string; items: string[]; active: boolean }[] = [
  {
    name: 'Services professionnels',
    items: ['Consultation', "Main-d'œuvre (heure)", 'Installation', 'Inspection'],
    active: true,
  },
  { name: 'Matériaux', items: ['2x4 Épinette 8 pi', 'Contreplaqué 4x8', 'Vis à bois #8', 'Bardeaux'], active: true },
  {
    name: 'Plumbing',
    items: ['PEX Pipe 1/2"', 'Ball Valve 3/4"', 'Water Heater 40 gal', 'Drain Cleaning'],
    active: true,
  },
  {
    name: 'Électricité',
    items: ['Disjoncteur 15 A', 'Fil 14/2 (rouleau)', 'Luminaire DEL', 'Prise GFCI'],
    active: true,
  },
  {
    name: 'Maintenance',
    items: ['Annual Maintenance Contract', 'Entretien saisonnier', 'Emergency Call-out'],
    active: true,
  },
  { name: 'Articles discontinués', items: ['Ancien modèle de thermostat', 'Legacy Filter Kit'], active: false },
  { name: 'Old Promotions', items: ['Spring Promo Bundle'], active: false },
];

const round2 = (n: number) => Math.round(n * 100) / 100;

function postalCode(rng: Prng, prefix: string): string {
  return `${prefix} ${rng.int(0, 9)}${LETTERS[rng.int(0, LETTERS.length - 1)]}${rng.int(0, 9)}`;
}

function phone(rng: Prng, area: string): string {
  return rng.chance(0.7)
    ? `(${area}) ${rng.int(200, 999)}-${String(rng.int(0, 9999)).padStart(4, '0')}`
    : `${area}-${rng.int(200, 999)}-${String(rng.int(0, 9999)).padStart(4, '0')}${rng.chance(0.2) ? ` poste ${rng.int(10, 999)}` : ''}`;
}

function address(rng: Prng, city: City, id: number): Json {
  const street = rng.pick(city.fr ? STREETS_FR : STREETS_EN);
  const addr: Json = {
    Id: String(id),
    Line1: `${rng.int(1, 9999)} ${street}`,
    City: city.city,
    Country: 'Canada',
    CountrySubDivisionCode: city.prov,
    PostalCode: postalCode(rng, city.postal),
  };
  if (rng.chance(0.15)) addr['Line2'] = city.fr ? `bureau ${rng.int(100, 900)}` : `Suite ${rng.int(100, 900)}`;
  return addr;
}

function slug(text: string): string {
  return text
    .normalize('NFD')
    .replace(/[\u0300-\u036f]/g, '')
    .replace(/[^A-Za-z0-9]+/g, '')
    .toLowerCase();
}

/** Instants over six years, with a few bulk-import bursts where thousands share one second. */
class Timeline {
  readonly start: number;
  private readonly bursts: number[];
  constructor(
    private readonly rng: Prng,
    readonly now: number,
  ) {
    this.start = now - 6 * 365 * 86_400_000;
    this.bursts = [0.2, 0.45, 0.7, 0.9].map((f) => Math.floor((this.start + f * (now - this.start)) / 1000) * 1000);
  }
  created(): number {
    return Math.floor((this.start + this.rng.next() * (this.now - 40 * 86_400_000 - this.start)) / 1000) * 1000;
  }
  /** Most rows last changed soon after creation; some in a burst; some in the last 30 days. */
  updated(created: number): number {
    const r = this.rng.next();
    if (r < 0.12) {
      const burst = this.rng.pick(this.bursts);
      if (burst >= created) return burst;
    }
    if (r > 0.97) return Math.floor((this.now - this.rng.next() * 25 * 86_400_000) / 1000) * 1000;
    const later = created + Math.floor(this.rng.next() * this.rng.next() * 200 * 86_400_000);
    return Math.floor(Math.min(later, this.now - 31 * 86_400_000) / 1000) * 1000;
  }
}

/** Fills a company with generated data. Deterministic for a given seed and sizes. */
export function generateCompany(company: Company, options: GenerateOptions): void {
  const rng = new Prng(options.seed);
  const timeline = new Timeline(rng, options.now);
  generateItems(company, rng, timeline, options.items);
  generateCustomers(company, rng, timeline, options.customers);
  generateTransactions(company, rng, timeline, options.transactions);
}

function generateItems(company: Company, rng: Prng, timeline: Timeline, wanted: number): void {
  let made = 0;
  for (const category of CATEGORIES) {
    if (made >= wanted) break;
    const created = timeline.created();
    const categoryId = company.allocateId('Item');
    company.insert({
      entity: 'Item',
      id: categoryId,
      idNum: Number(categoryId),
      syncToken: category.active ? 0 : 1,
      created,
      updated: timeline.updated(created),
      active: category.active,
      name: category.name,
      itemType: 'Category',
      body: { SubItem: false, Level: 0 },
    });
    made++;
    for (const name of category.items) {
      if (made >= wanted) break;
      made++;
      addItem(name, categoryId, category.active);
    }
  }
  for (let n = 1; made < wanted; n++, made++) addItem(`Article ${n} / Item ${n}`, undefined, true);

  function addItem(name: string, parentId: string | undefined, active: boolean): void {
    const id = company.allocateId('Item');
    const created = timeline.created();
    const type = rng.pick(['Service', 'NonInventory', 'Inventory']);
    const price = round2(rng.int(5, 2500) + rng.pick([0, 0.25, 0.5, 0.99]));
    const body: Json = {
      Description: name,
      Sku: `SKU-${slug(name).slice(0, 8).toUpperCase()}-${id}`,
      UnitPrice: price,
      Taxable: true,
      IncomeAccountRef: { value: '79', name: 'Ventes / Sales of Product Income' },
      PurchaseCost: round2(price * 0.6),
      TrackQtyOnHand: type === 'Inventory',
      SubItem: parentId !== undefined,
      Level: parentId !== undefined ? 1 : 0,
    };
    if (parentId !== undefined) body['ParentRef'] = { value: parentId };
    if (type === 'Inventory') {
      body['QtyOnHand'] = rng.int(0, 500);
      body['InvStartDate'] = localDate(created, company.timeZone);
      body['AssetAccountRef'] = { value: '81', name: 'Inventory Asset' };
      body['ExpenseAccountRef'] = { value: '80', name: 'Cost of Goods Sold' };
    } else if (rng.chance(0.5)) {
      body['ExpenseAccountRef'] = { value: '80', name: 'Cost of Goods Sold' };
    }
    company.insert({
      entity: 'Item',
      id,
      idNum: Number(id),
      syncToken: active ? rng.int(0, 3) : rng.int(1, 4),
      created,
      updated: timeline.updated(created),
      active,
      name,
      itemType: type,
      body,
    });
  }
}

function generateCustomers(company: Company, rng: Prng, timeline: Timeline, count: number): void {
  let addressId = 1;
  let lastParent: Row | undefined;
  const nameCounters = new Map<string, number>();
  for (let i = 0; i < count; i++) {
    const id = company.allocateId('Customer');
    const created = timeline.created();
    const city = rng.pick(CITIES);
    const fr = city.fr ? rng.chance(0.85) : rng.chance(0.15);
    const given = rng.pick(fr ? FIRST_FR : FIRST_EN);
    const family = rng.pick(fr ? LAST_FR : LAST_EN);
    const job = lastParent !== undefined && rng.chance(0.06);
    const isCompany = !job && rng.chance(0.6);
    const body: Json = { Taxable: rng.chance(0.8) };
    const bill = address(rng, city, addressId++);
    body['BillAddr'] = bill;
    if (rng.chance(0.4))
      body['ShipAddr'] = rng.chance(0.5) ? { ...bill, Id: String(addressId++) } : address(rng, city, addressId++);
    let display = '';
    if (job && lastParent) {
      display = fr ? `Chantier ${bill['Line1'] as string}` : `Job ${bill['Line1'] as string}`;
      body['Job'] = true;
      body['ParentRef'] = { value: lastParent.id };
      body['Level'] = 1;
      body['BillWithParent'] = rng.chance(0.5);
    } else {
      body['Job'] = false;
      body['BillWithParent'] = false;
    }
    const balance = rng.chance(0.6) ? 0 : round2(rng.int(0, 20000) + rng.next());
    body['Balance'] = balance;
    body['BalanceWithJobs'] = balance;
    body['CurrencyRef'] = rng.chance(0.95)
      ? { value: 'CAD', name: 'Canadian Dollar' }
      : { value: 'USD', name: 'United States Dollar' };
    body['PreferredDeliveryMethod'] = rng.pick(['Print', 'Email', 'None']);
    body['IsProject'] = false;
    body['ClientEntityId'] = '0';
    if (rng.chance(0.5)) body['Title'] = rng.pick(TITLES);
    body['GivenName'] = given;
    if (rng.chance(0.1)) body['MiddleName'] = rng.pick(fr ? FIRST_FR : FIRST_EN);
    body['FamilyName'] = family;
    if (isCompany) {
      const companyName = rng.pick(fr ? COMPANY_FR : COMPANY_EN)(rng.pick(fr ? LAST_FR : LAST_EN));
      body['CompanyName'] = companyName;
      display = companyName;
    } else if (!job) {
      display = `${given} ${family}`;
    }
    display = uniqueName(company, display, city.city, nameCounters);
    body['PrintOnCheckName'] = isCompany ? display : `${given} ${family}`;
    body['V4IDPseudonym'] =
      `00${(mixSeed(company.seed, i) >>> 0).toString(16).padStart(8, '0')}${(mixSeed(i, 7) >>> 0).toString(16).padStart(8, '0')}`;
    if (rng.chance(0.85)) body['PrimaryPhone'] = { FreeFormNumber: phone(rng, city.area) };
    if (rng.chance(0.25)) body['AlternatePhone'] = { FreeFormNumber: phone(rng, city.area) };
    if (rng.chance(0.4)) body['Mobile'] = { FreeFormNumber: phone(rng, city.area) };
    if (rng.chance(0.15)) body['Fax'] = { FreeFormNumber: phone(rng, city.area) };
    if (rng.chance(0.85)) {
      const domain = isCompany
        ? `${slug(body['CompanyName'] as string).slice(0, 20)}.ca`
        : rng.pick(['videotron.ca', 'gmail.com', 'sympatico.ca', 'outlook.com']);
      const first = `${slug(given)}.${slug(family)}@${domain}`;
      body['PrimaryEmailAddr'] = {
        Address: rng.chance(0.15) ? `${first}, comptabilite@${domain}` : first,
      };
    }
    if (isCompany && rng.chance(0.5))
      body['WebAddr'] = { URI: `https://www.${slug(body['CompanyName'] as string).slice(0, 20)}.ca` };
    if (rng.chance(0.1))
      body['Notes'] = fr
        ? 'Client depuis longtemps; préfère être appelé le matin.'
        : "Long-time customer; call before noon, ask for the owner's approval.";
    body['DefaultTaxCodeRef'] = { value: (TAX[city.prov] ?? TAX['QC']!).code };
    const active = rng.chance(0.93);
    const row: Row = {
      entity: 'Customer',
      id,
      idNum: Number(id),
      syncToken: active ? rng.int(0, 4) : rng.int(1, 6),
      created,
      updated: timeline.updated(created),
      active,
      name: display,
      body,
    };
    company.insert(row);
    if (!job && isCompany && active) lastParent = row;
  }
}

/**
 * The name itself, else `Name (City)`, else the first free `Name (City n)` from 2 up. `counters`
 * remembers where the search for each name and city last stopped: names are only added while
 * generating, so every number below it is still taken and the result is the same as searching from 2.
 */
function uniqueName(company: Company, base: string, city: string, counters: Map<string, number>): string {
  const clean = base.replace(/[:\t\n]/g, ' ');
  if (!company.isNameTaken(clean)) return clean;
  const withCity = `${clean} (${city})`;
  if (!company.isNameTaken(withCity)) return withCity;
  for (let n = counters.get(withCity) ?? 2; ; n++) {
    const candidate = `${clean} (${city} ${n})`;
    if (!company.isNameTaken(candidate)) {
      counters.set(withCity, n + 1);
      return candidate;
    }
  }
}

function generateTransactions(company: Company, rng: Prng, timeline: Timeline, count: number): void {
  const customers = company.tables.Customer.byId;
  if (customers.length === 0 || count === 0) return;
  const docNumbers = { Estimate: 1000, Invoice: 1000, CreditMemo: 5000, SalesReceipt: 8000 };
  let made = 0;
  const add = (entity: Row['entity'], customer: Row, created: number, gen: NonNullable<Row['gen']>): Row => {
    const id = company.allocateId(entity);
    const key = entity as keyof typeof docNumbers;
    const row: Row = {
      entity,
      id,
      idNum: Number(id),
      syncToken: rng.int(0, 3),
      created,
      updated: timeline.updated(created),
      active: true,
      name: '',
      docNumber: String(++docNumbers[key]),
      txnDate: localDate(created - rng.int(0, 3) * 86_400_000, company.timeZone),
      customerId: customer.id,
      body: null,
      gen,
    };
    company.insert(row);
    made++;
    return row;
  };
  while (made < count) {
    const customer = customers[rng.int(0, customers.length - 1)] as Row;
    const created = timeline.created();
    const kind = rng.next();
    if (kind < 0.35) {
      const status = rng.pick(['Pending', 'Accepted', 'Closed', 'Closed', 'Rejected']);
      const seed = rng.uint32();
      const estimate = add('Estimate', customer, created, { seed, status });
      if (status === 'Closed' && made < count) {
        const invoiceCreated = Math.min(created + rng.int(1, 20) * 86_400_000, timeline.now - 86_400_000);
        const invoice = add('Invoice', customer, invoiceCreated, {
          seed,
          links: [{ TxnId: estimate.id, TxnType: 'Estimate' }],
        });
        if (invoice.updated < estimate.updated) invoice.updated = estimate.updated;
        estimate.gen = { seed, status, links: [{ TxnId: invoice.id, TxnType: 'Invoice' }] };
      }
    } else if (kind < 0.75) add('Invoice', customer, created, { seed: rng.uint32() });
    else if (kind < 0.85) add('CreditMemo', customer, created, { seed: rng.uint32() });
    else add('SalesReceipt', customer, created, { seed: rng.uint32() });
  }
}

const sellableCache = new WeakMap<Company, { version: number; items: Row[] }>();

function sellableItems(company: Company): Row[] {
  const table = company.tables.Item;
  const hit = sellableCache.get(company);
  if (hit && hit.version === table.version) return hit.items;
  const items = table.byId.filter((r) => r.itemType !== 'Category');
  sellableCache.set(company, { version: table.version, items });
  return items;
}

/** Builds a generated transaction's body from its seed (the store calls this on first read). */
export function materializeTransaction(company: Company, row: Row): Json {
  if (!row.gen) return {};
  const rng = new Prng(mixSeed(row.gen.seed, 0x5eed));
  const customer = row.customerId ? company.tables.Customer.rows.get(row.customerId) : undefined;
  const customerBody = customer?.body ?? {};
  const bill = isObject(customerBody['BillAddr']) ? customerBody['BillAddr'] : undefined;
  const province = bill && typeof bill['CountrySubDivisionCode'] === 'string' ? bill['CountrySubDivisionCode'] : 'QC';
  const tax = TAX[province] ?? (TAX['QC'] as (typeof TAX)[string]);
  const items = sellableItems(company);
  const links = row.gen.links;
  const lineLinks = row.entity === 'Invoice' && links ? links : undefined;

  const lines: Json[] = [];
  let subtotal = 0;
  const lineCount = rng.int(1, 5);
  for (let n = 1; n <= lineCount && items.length > 0; n++) {
    const item = rng.pick(items);
    const unit = typeof item.body?.['UnitPrice'] === 'number' ? (item.body['UnitPrice'] as number) : 10;
    const qty = rng.chance(0.7) ? rng.int(1, 10) : round2(rng.int(1, 40) / 4);
    const amount = round2(unit * qty);
    subtotal += amount;
    const line: Json = {
      Id: String(n),
      LineNum: n,
      Description: (item.body?.['Description'] as string | undefined) ?? item.name,
      Amount: amount,
    };
    if (lineLinks) line['LinkedTxn'] = lineLinks.map((l) => ({ ...l }));
    line['DetailType'] = 'SalesItemLineDetail';
    line['SalesItemLineDetail'] = {
      ItemRef: { value: item.id, name: company.qualifiedName(item) },
      UnitPrice: unit,
      Qty: qty,
      ItemAccountRef: { value: '79', name: 'Ventes / Sales of Product Income' },
      TaxCodeRef: { value: tax.code },
    };
    line['CustomExtensions'] = [];
    lines.push(line);
  }
  let lineNum = lines.length;
  if (rng.chance(0.3)) {
    const amount = round2(rng.int(10, 150));
    subtotal += amount;
    lines.push({
      Id: String(++lineNum),
      LineNum: lineNum,
      Description: rng.chance(0.5) ? 'Livraison' : 'Shipping',
      Amount: amount,
      DetailType: 'SalesItemLineDetail',
      SalesItemLineDetail: { ItemRef: { value: 'SHIPPING_ITEM_ID' }, TaxCodeRef: { value: tax.code } },
    });
  }
  subtotal = round2(subtotal);
  lines.push({ Amount: subtotal, DetailType: 'SubTotalLineDetail', SubTotalLineDetail: {} });
  let discount = 0;
  if (rng.chance(0.25)) {
    const percentBased = rng.chance(0.6);
    const percent = rng.pick([5, 8.5, 10, 15]);
    discount = percentBased ? round2((subtotal * percent) / 100) : Math.min(subtotal, round2(rng.int(5, 200)));
    const detail: Json = percentBased
      ? {
          PercentBased: true,
          DiscountPercent: percent,
          DiscountAccountRef: { value: '86', name: 'Escomptes accordés / Discounts given' },
        }
      : { PercentBased: false, DiscountAccountRef: { value: '86', name: 'Escomptes accordés / Discounts given' } };
    lines.push({ Amount: discount, DetailType: 'DiscountLineDetail', DiscountLineDetail: detail });
  }
  const taxable = round2(subtotal - discount);
  const taxLines = tax.rates.map((rate) => ({
    Amount: round2((taxable * rate.percent) / 100),
    DetailType: 'TaxLineDetail',
    TaxLineDetail: {
      TaxRateRef: { value: rate.id },
      PercentBased: true,
      TaxPercent: rate.percent,
      NetAmountTaxable: taxable,
    },
  }));
  const totalTax = round2(taxLines.reduce((sum, l) => sum + l.Amount, 0));
  const total = round2(taxable + totalTax);

  const body: Json = { CustomField: [] };
  body['CurrencyRef'] = isObject(customerBody['CurrencyRef'])
    ? { ...customerBody['CurrencyRef'] }
    : { value: 'CAD', name: 'Canadian Dollar' };
  if (rng.chance(0.2)) body['PrivateNote'] = rng.chance(0.5) ? 'Prix convenu au téléphone' : "Customer's PO to follow";
  // Real invoices carry LinkedTxn even when empty; other sales forms only when linked.
  if (links) body['LinkedTxn'] = links.map((l) => ({ ...l }));
  else if (row.entity === 'Invoice') body['LinkedTxn'] = [];
  body['Line'] = lines;
  body['TxnTaxDetail'] = { TotalTax: totalTax, TaxLine: taxLines };
  if (bill) body['BillAddr'] = { ...bill };
  const ship = isObject(customerBody['ShipAddr']) ? customerBody['ShipAddr'] : undefined;
  if (ship ?? bill) body['ShipAddr'] = { ...(ship ?? bill) };
  const email = isObject(customerBody['PrimaryEmailAddr']) ? customerBody['PrimaryEmailAddr']['Address'] : undefined;
  if (typeof email === 'string') body['BillEmail'] = { Address: email };
  body['FreeFormAddress'] = rng.chance(0.3);
  // ApplyTaxAfterDiscount is US-only (Intuit's Estimate reference); Canadian companies use GlobalTaxCalculation.
  body['GlobalTaxCalculation'] = 'TaxExcluded';
  body['TotalAmt'] = total;
  body['PrintStatus'] = rng.pick(['NotSet', 'NeedToPrint', 'PrintComplete']);
  body['EmailStatus'] = rng.pick(['NotSet', 'NeedToSend', 'EmailSent']);
  const txnDay = Date.parse(`${row.txnDate ?? '2020-01-01'}T12:00:00Z`);
  const plusDays = (days: number) => new Date(txnDay + days * 86_400_000).toISOString().slice(0, 10);
  switch (row.entity) {
    case 'Estimate':
      body['TxnStatus'] = row.gen.status ?? 'Pending';
      body['ExpirationDate'] = plusDays(30);
      if (row.gen.status === 'Accepted' || row.gen.status === 'Closed') {
        body['AcceptedBy'] = customer ? customer.name : 'Client';
        body['AcceptedDate'] = plusDays(rng.int(1, 10));
      }
      break;
    case 'Invoice': {
      body['DueDate'] = plusDays(30);
      body['SalesTermRef'] = { value: '3', name: 'Net 30' };
      body['Balance'] = rng.chance(0.6) ? 0 : total;
      body['AllowIPNPayment'] = false;
      body['AllowOnlinePayment'] = false;
      body['AllowOnlineCreditCardPayment'] = rng.chance(0.5);
      body['AllowOnlineACHPayment'] = rng.chance(0.5);
      break;
    }
    case 'CreditMemo':
      body['RemainingCredit'] = rng.chance(0.5) ? 0 : total;
      body['Balance'] = body['RemainingCredit'];
      break;
    case 'SalesReceipt':
      body['PaymentMethodRef'] = rng.pick([
        { value: '1', name: 'Comptant / Cash' },
        { value: '2', name: 'Chèque / Check' },
        { value: '3', name: 'Visa' },
        { value: '4', name: 'Interac' },
      ]);
      if (rng.chance(0.5)) body['PaymentRefNum'] = String(rng.int(1000, 99999));
      body['DepositToAccountRef'] = { value: '4', name: 'Undeposited Funds' };
      body['Balance'] = 0;
      break;
    default:
      break;
  }
  return body;
}
