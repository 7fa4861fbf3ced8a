/**
 * An HL7 v2 link's configuration (`link.config`), validated before anything starts. TLS
 * certificates and keys are PEM text or paths to PEM files; a private key may instead come from
 * the link's encrypted credentials (`secrets.mllpListenTlsKey`, `secrets.mllpSendTlsKey`), which
 * is where it belongs in production.
 */
import { z } from 'zod';

import { resolveCharset } from '../../src/hl7/index.js';

const pem = z.string().min(1, { error: 'PEM text or the path of a PEM file' });
/** A private key given inline is a secret: never shown back by the API (src/connector/config-schema.ts). */
const secretPem = pem.meta({ writeOnly: true });

const ListenTls = z.strictObject({
  cert: pem,
  /** Or `secrets.mllpListenTlsKey`. */
  key: secretPem.optional(),
  /** CAs trusted for client certificates. */
  ca: pem.optional(),
  /** Ask for a client certificate and refuse connections without a valid one (needs `ca`). */
  requestClientCert: z.boolean().default(false),
});

const SendTls = z.strictObject({
  /** CAs trusted for the peer's certificate (default: the system's). */
  ca: pem.optional(),
  /** Client certificate, for peers that ask for one; key here or in `secrets.mllpSendTlsKey`. */
  cert: pem.optional(),
  key: secretPem.optional(),
  /** Name checked against the peer's certificate (default: host). */
  servername: z.string().min(1).optional(),
});

const port = z.number().int().min(0).max(65535);

export const Hl7v2Config = z
  .strictObject({
    mllp: z
      .strictObject({
        /** Where practice software connects to send its messages. */
        listen: z
          .strictObject({
            host: z.string().min(1),
            /** 0 picks a free port (tests). */
            port,
            tls: ListenTls.optional(),
            /** Larger blocks are answered AR and skipped; the connection stays open. */
            maxMessageBytes: z
              .number()
              .int()
              .min(1024)
              .max(64 * 1024 * 1024)
              .default(1024 * 1024),
            /** A connection without a byte either way for this long is closed (0: never). */
            idleTimeoutMs: z
              .number()
              .int()
              .min(0)
              .max(24 * 3600 * 1000)
              .default(300_000),
            /** Open connections at once, all senders together; past it, new ones are refused. */
            maxConnections: z.number().int().min(1).max(10_000).default(200),
            /** Open connections at once from one source address; past it, new ones are refused. */
            maxConnectionsPerAddress: z.number().int().min(1).max(10_000).default(20),
          })
          .optional(),
        /** Where passerelle sends its messages (the practice software's MLLP listener). */
        send: z
          .strictObject({
            host: z.string().min(1),
            port: port.refine((p) => p > 0, { error: 'must be 1-65535' }),
            tls: SendTls.optional(),
            ackTimeoutMs: z.number().int().min(100).max(600_000).default(30_000),
            connectTimeoutMs: z.number().int().min(100).max(600_000).default(10_000),
          })
          .optional(),
      })
      .optional(),
    fileDrop: z
      .strictObject({
        /** Folder the practice software writes messages into; processed/ and error/ are created inside. */
        inbound: z.string().min(1).optional(),
        /** Folder passerelle writes its messages into (temp file + rename). */
        outbound: z.string().min(1).optional(),
        pollMs: z.number().int().min(10).max(3_600_000).default(2000),
        /** A file is taken once its size and date have not changed for this long. */
        settleMs: z.number().int().min(0).max(3_600_000).default(1000),
        /** Name ending of the files written to `outbound`. */
        extension: z
          .string()
          .regex(/^\.[A-Za-z0-9]{1,10}$/, { error: 'a dot and 1-10 letters or digits' })
          .default('.hl7'),
      })
      .optional(),
    /** Character set of messages whose MSH-18 is empty (HL7 v2.5.1 §2.15.9.18). */
    defaultCharset: z
      .string()
      .refine((c) => resolveCharset(c) !== undefined, {
        error: 'not a supported character set (UNICODE UTF-8, 8859/1, 8859/15, ASCII, windows-1252)',
      })
      .optional(),
    /**
     * The same MSH-3, MSH-4 and MSH-10 with another body (some practice software reuses control
     * ids): `process` applies it as a new message, flagged `reused-dedupe-key`; `reject`
     * answers AE (CE in enhanced mode) and dead-letters it. Never dropped either way.
     */
    reusedControlId: z.enum(['process', 'reject']).default('process'),
    /**
     * When the accept ACK of a message in enhanced mode goes out (HL7 v2.5.1 §2.9.3), for a
     * message that asks for nothing else (MSH-15 set, MSH-16 NE or empty: IHE PAM France's
     * AL/NE): `apply` (default) once it is applied; `commit` once it is committed to the inbox
     * ("committed to safe storage", the meaning of CA), applied right after from the inbox, in
     * arrival order. Original mode (AA/AE) and messages asking for an application ACK always
     * wait for the apply. MLLP only; the file drop applies each message before moving its file.
     */
    acceptAck: z.enum(['apply', 'commit']).default('apply'),
    /**
     * The practice software's id of the practitioner an appointment gets when its message names
     * none (AIP, AIG, PV1-7/8, SCH-16 all empty; mappings `optional: [Practitioner]`): a
     * practitioner this link already knows. Without it such an appointment is applied without
     * a practitioner and flagged `practitioner-missing`.
     */
    defaultPractitioner: z.string().trim().min(1).max(64).optional(),
    /**
     * A practitioner id this link names for the first time: `create` (default) makes a new
     * canonical practitioner of it; `map` makes none and opens the link's practitioner mapping
     * review instead, the appointments naming it applied and held until an operator maps the id
     * to a practitioner the practice already has (or creates one). See docs/sync.md.
     */
    newPractitioners: z.enum(['create', 'map']).default('create'),
    /** MSH-3 / MSH-4 of what passerelle sends (and of its ACKs when the inbound MSH-5/6 are empty). */
    sendingApplication: z.string().min(1).max(180).default('PASSERELLE'),
    sendingFacility: z.string().min(1).max(180).default('PASSERELLE'),
  })
  .superRefine((c, ctx) => {
    if (!c.mllp?.listen && !c.mllp?.send && !c.fileDrop?.inbound && !c.fileDrop?.outbound) {
      ctx.addIssue({
        code: 'custom',
        path: [],
        message: 'configure at least one of mllp.listen, mllp.send, fileDrop.inbound, fileDrop.outbound',
      });
    }
    if (c.mllp?.send && c.fileDrop?.outbound) {
      ctx.addIssue({
        code: 'custom',
        path: ['fileDrop', 'outbound'],
        message: 'one outbound transport per link: mllp.send or fileDrop.outbound, not both',
      });
    }
    if (c.mllp?.listen?.tls?.requestClientCert && !c.mllp.listen.tls.ca) {
      ctx.addIssue({
        code: 'custom',
        path: ['mllp', 'listen', 'tls', 'ca'],
        message: 'requestClientCert needs the CA that signs the client certificates',
      });
    }
  });
export type Hl7v2Config = z.infer<typeof Hl7v2Config>;

/** The link's encrypted credentials (`link.secrets`): private keys kept out of the config. */
export const Hl7v2Secrets = z.strictObject({
  mllpListenTlsKey: z.string().min(1).optional(),
  mllpSendTlsKey: z.string().min(1).optional(),
});
