/** The CRM's sales stages (R12) and their labels in the two sync languages (R3). */
export const languages = ['fr', 'en'] as const;
export type Language = (typeof languages)[number];

export const stages = ['lost', 'qualified', 'advanced', 'won'] as const;
export type Stage = (typeof stages)[number];

export const stageLabels: Readonly<Record<Language, Readonly<Record<Stage, string>>>> = {
  fr: { lost: 'Perdue', qualified: 'Qualifiée', advanced: 'Avancée', won: 'Gagnée' },
  en: { lost: 'Lost', qualified: 'Qualified', advanced: 'Advanced', won: 'Won' },
};

export function isLanguage(value: unknown): value is Language {
  return value === 'fr' || value === 'en';
}

export interface StageAndProbability {
  readonly stage: Stage;
  /** A percent, 0 to 100. */
  readonly probability: number;
}

/**
 * R12, for estimates: Rejected 0 % Lost; Pending 40 % Qualified; Accepted 80 % and Closed 90 %
 * Advanced. `Converted` (documented by Intuit, not seen in recordings) is an estimate turned into an
 * invoice, like Closed, so it is Advanced at 90 %.
 */
export const estimateStatusStages: Readonly<Record<string, StageAndProbability>> = {
  Rejected: { stage: 'lost', probability: 0 },
  Pending: { stage: 'qualified', probability: 40 },
  Accepted: { stage: 'advanced', probability: 80 },
  Closed: { stage: 'advanced', probability: 90 },
  Converted: { stage: 'advanced', probability: 90 },
};

/** R12: an invoice is Won at 100 %; so are sales receipts and credit notes (see sales-document.ts). */
export const wonStage: StageAndProbability = { stage: 'won', probability: 100 };
