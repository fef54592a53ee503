import { InvalidArgumentError } from 'commander';
import { OnboardingInputError, parseLanguage, parseMode, parseStartDate, parseTenantId } from '../onboarding/inputs.js';

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

/** A TCP port to listen on; 0 asks for any free one. */
export function portArg(value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value) || n > 65535) throw new InvalidArgumentError('--port must be an integer from 0 to 65535');
  return n;
}
