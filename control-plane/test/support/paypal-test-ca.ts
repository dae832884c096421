// A certificate authority made by the test itself with the openssl CLI (node:crypto makes keys but
// not X.509 certificates): a root, an intermediate, PayPal's signing certificate under them, and the
// forger's self-signed certificate in PayPal's name. Nothing leaves the machine.
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface TestCertificate {
  /** The certificate (PEM). */
  pem: string;
  /** Its private key (PEM). */
  key: string;
}

export interface PaypalTestCa {
  /** Where the root's PEM is (VILLAGE_PAYPAL_CA_FILE). */
  caFile: string;
  root: TestCertificate;
  intermediate: TestCertificate;
  /** Issued to messageverificationcerts.paypal.com by the intermediate. */
  signer: TestCertificate;
  /** What PayPal serves at the certificate URL: the signer, then the intermediate. */
  chainPem: string;
  /** Self-signed, in PayPal's name: what a forger can make. */
  forged: TestCertificate;
  /** A key that belongs to no certificate. */
  strayKey: string;
  /** Issued by the intermediate to another name. */
  otherName: TestCertificate;
  dispose(): Promise<void>;
}

export async function createPaypalTestCa(): Promise<PaypalTestCa> {
  const dir = await mkdtemp(join(tmpdir(), 'paypal-ca-'));
  const path = (name: string) => join(dir, name);
  await writeFile(
    path('ext.cnf'),
    [
      '[ca]',
      'basicConstraints = critical, CA:TRUE',
      'keyUsage = critical, keyCertSign, cRLSign',
      '[leaf]',
      'basicConstraints = critical, CA:FALSE',
      'keyUsage = critical, digitalSignature',
      '',
    ].join('\n'),
  );
  const key = (name: string) =>
    run('openssl', ['genpkey', '-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:2048', '-out', path(`${name}.key`)]);
  await Promise.all(['root', 'intermediate', 'signer', 'forged', 'stray', 'other'].map(key));

  const selfSigned = (name: string, subject: string, extensions: string) =>
    run('openssl', [
      'req',
      '-x509',
      '-new',
      '-key',
      path(`${name}.key`),
      '-out',
      path(`${name}.pem`),
      '-days',
      '2',
      '-subj',
      subject,
      '-config',
      path('ext.cnf'),
      '-extensions',
      extensions,
    ]);
  const issued = async (name: string, subject: string, issuer: string, extensions: string) => {
    await run('openssl', ['req', '-new', '-key', path(`${name}.key`), '-out', path(`${name}.csr`), '-subj', subject]);
    await run('openssl', [
      'x509',
      '-req',
      '-in',
      path(`${name}.csr`),
      '-CA',
      path(`${issuer}.pem`),
      '-CAkey',
      path(`${issuer}.key`),
      '-set_serial',
      String(Date.now()),
      '-days',
      '2',
      '-out',
      path(`${name}.pem`),
      '-extfile',
      path('ext.cnf'),
      '-extensions',
      extensions,
    ]);
  };
  await selfSigned('root', '/O=Village Test/CN=Village Test Root CA', 'ca');
  await issued('intermediate', '/O=Village Test/CN=Village Test Intermediate CA', 'root', 'ca');
  await issued('signer', '/O=PayPal, Inc./CN=messageverificationcerts.paypal.com', 'intermediate', 'leaf');
  await issued('other', '/O=Elsewhere/CN=webhooks.example.com', 'intermediate', 'leaf');
  await selfSigned('forged', '/O=PayPal, Inc./CN=messageverificationcerts.paypal.com', 'leaf');

  const certificate = async (name: string): Promise<TestCertificate> => ({
    pem: await readFile(path(`${name}.pem`), 'utf8'),
    key: await readFile(path(`${name}.key`), 'utf8'),
  });
  const [root, intermediate, signer, forged, otherName] = await Promise.all(
    ['root', 'intermediate', 'signer', 'forged', 'other'].map(certificate),
  );
  return {
    caFile: path('root.pem'),
    root: root!,
    intermediate: intermediate!,
    signer: signer!,
    chainPem: `${signer!.pem}${intermediate!.pem}`,
    forged: forged!,
    otherName: otherName!,
    strayKey: await readFile(path('stray.key'), 'utf8'),
    dispose: () => rm(dir, { recursive: true, force: true }),
  };
}
