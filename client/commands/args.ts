import { InvalidArgumentError } from 'commander';
import {
  OnboardingInputError,
  parseLanguage,
  parseMode,
  parseStartDate,
  parseTenantId,
} from '../onboarding/service.js';

// Argument parsers for the onboarding commands: the same checks as the page, as commander errors
// (one line, exit 2). They import nothing heavy, so a bad argument answers at once.

function wrap<T>(parse: (value: string) => T) {
  return (value: string): T => {
    try {
      return parse(value);
    } catch (error) {
      if (error instanceof OnboardingInputError) throw new InvalidArgumentError(error.message);
      throw error;
    }
  };
}

export const tenantArg = wrap(parseTenantId);
export const startDateArg = wrap((value) => parseStartDate(value, new Date()));
export const languageArg = wrap((value) => parseLanguage(value, 'language'));
export const modeArg = wrap(parseMode);
