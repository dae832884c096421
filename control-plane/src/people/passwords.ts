import { hash, verify } from '@node-rs/argon2';

// argon2id with the library's defaults (19 MiB, 2 passes: OWASP's recommendation); ~50 ms a hash here.

export function hashPassword(password: string): Promise<string> {
  return hash(password);
}

// Checked against when the account does not exist, so that a wrong handle costs as long as a wrong
// password and timing does not tell which accounts exist.
let decoy: Promise<string> | undefined;

export async function passwordMatches(storedHash: string | undefined, password: string): Promise<boolean> {
  if (storedHash === undefined) {
    decoy ??= hash('not-a-real-account-password');
    await verify(await decoy, password).catch(() => false);
    return false;
  }
  return verify(storedHash, password).catch(() => false);
}
