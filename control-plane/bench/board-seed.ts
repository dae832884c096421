import type pg from 'pg';

/**
 * Seeds the board of a migrated, empty village database in bulk SQL, for the board benchmark: people,
 * posts and replies on one timeline (ids from board_item_seq in time order, as the server draws them),
 * and the agents' mail exactly as deliverMail would have written it. Agents must exist already.
 */
export interface BoardSeed {
  posts: number;
  /** At least ten times `posts` (every eleventh item of the timeline is a post). */
  replies: number;
  users: number;
  agentIds: string[];
}

export interface SeedReport {
  ms: number;
  steps: Array<[string, number]>;
  mailRows: number;
  /** The most common word of the vocabulary first; the tail words appear in a handful of posts each. */
  vocabulary: { common: string[]; tail: string[] };
}

const COMMON_WORDS = 3000;
const TAIL_WORDS = 2000;
const TAGS = [
  'market garden help question event news trade lost-and-found bakery weather harvest music library repairs',
  'festival school fishing well square council recipes animals forest river bridge tools offer request',
  'idea bug meeting games art history health night morning map road mill',
].flatMap((line) => line.split(' '));

/** Deterministic pseudo-words (so runs are comparable), shaped like words, not like English. */
export function vocabulary(count: number, seed = 42): string[] {
  const random = mulberry32(seed);
  const onsets = ['b', 'c', 'd', 'f', 'g', 'h', 'k', 'l', 'm', 'n', 'p', 'r', 's', 't', 'v', 'w', 'br', 'st', 'tr'];
  const vowels = ['a', 'e', 'i', 'o', 'u', 'ai', 'ou'];
  const codas = ['', '', '', 'n', 'r', 'l', 'st', 'm'];
  const pick = <T>(list: T[]) => list[Math.floor(random() * list.length)]!;
  const words = new Set<string>();
  while (words.size < count) {
    const syllables = 2 + Math.floor(random() * 2);
    let word = '';
    for (let s = 0; s < syllables; s++) word += pick(onsets) + pick(vowels);
    words.add(word + pick(codas));
  }
  return [...words];
}

/** A word of the common vocabulary ($1), Zipf-distributed (rank r with probability ~ 1 / r); `g` is the row. */
const WORD = `($1::text[])[least(${COMMON_WORDS}, floor(exp(random() * ln(${COMMON_WORDS} + 1)))::int + 0 * g)]`;

/** The statements, in order, each timed. `$1`..: see `seedBoard`. */
const STEPS: Array<[string, string]> = [
  [
    'users',
    `INSERT INTO users (handle, display_name, email, password_hash, role, created_at)
     SELECT 'resident-' || u, 'Resident ' || u, 'resident-' || u || '@bench.invalid', 'not-a-password-hash',
            CASE WHEN u % 50 = 0 THEN 'moderator' ELSE 'human' END, now() - interval '400 days'
       FROM generate_series(1, $2::int) u`,
  ],
  [
    'reply texts',
    // Replies are never searched: 5,000 texts drawn from the same vocabulary are realistic enough.
    `CREATE TEMP TABLE seed_reply_text AS
       SELECT n, (SELECT string_agg(${WORD}, ' ') FROM generate_series(1, 4 + (n % 37)) g) AS body
         FROM generate_series(0, 4999) n`,
  ],
  [
    'post timeline',
    // Item i of the timeline (id i + 1) is a post when i % 11 = 0. Authors: half agents (some far busier
    // than others), half people; audiences mostly public.
    `CREATE TEMP TABLE seed_post AS
     WITH d AS (
       SELECT j, random() AS ra, random() AS rb, random() AS rs, random() AS rm, random() AS rt,
              (15 + floor(random() ^ 2 * 135))::int AS words,
              (3 + floor(random() * 6))::int AS title_words,
              floor(random() ^ 2 * cardinality($3::text[]))::int AS agent_n,
              (1 + floor(random() ^ 1.5 * $2::int))::int AS user_n,
              floor(random() * cardinality($3::text[]))::int AS other_agent_n
         FROM generate_series(0, $4::int - 1) j)
     SELECT j, (j * 11 + 1)::bigint AS id,
            now() - interval '365 days' + (j * 11) * (interval '365 days' / ($4::int * 11)) AS created_at,
            CASE WHEN ra < 0.5 THEN 'agent' ELSE 'human' END AS author_type,
            CASE WHEN ra < 0.5 THEN ($3::text[])[agent_n + 1] ELSE 'resident-' || user_n END AS author_key,
            CASE WHEN ra < 0.5 THEN CASE WHEN rb < 0.9 THEN 'public' ELSE 'agents' END
                 ELSE CASE WHEN rb < 0.8 THEN 'public' WHEN rb < 0.9 THEN 'humans' ELSE 'agent' END END AS audience,
            CASE WHEN ra >= 0.5 AND rb >= 0.9 THEN ($3::text[])[other_agent_n + 1] END AS audience_agent_id,
            CASE WHEN rs < 0.75 THEN 'open' WHEN rs < 0.85 THEN 'closed' WHEN rs < 0.995 THEN 'resolved'
                 ELSE 'moderated' END AS status,
            rs > 0.99 AS locked,
            -- 5% mention an agent (not the one addressed, to keep one reason per row simple).
            CASE WHEN rm < 0.05 THEN ($3::text[])[((other_agent_n + 1 + floor(rm * 1000)::int) % cardinality($3::text[])) + 1] END
              AS mention,
            words, title_words, rt
       FROM d`,
  ],
  [
    'reply timeline',
    // The other items are replies. Two thirds go to a recent post (log-uniform age), one third to one of
    // every twentieth post, "hot" threads that keep getting replies: threads of very uneven length.
    `CREATE TEMP TABLE seed_reply AS
     WITH d AS (
       SELECT i, i / 11 AS newest, random() AS rk, random() AS rw, random() AS ra, random() AS rm, random() AS rh,
              floor(random() * cardinality($3::text[]))::int AS agent_n, (1 + floor(random() * $2::int))::int AS user_n
         FROM generate_series(0, $4::int * 11 - 1) i
        WHERE i % 11 <> 0)
     SELECT i, (i + 1)::bigint AS id,
            (CASE WHEN rk < 0.67 OR newest < 7
                  THEN newest - (floor(exp(rw * ln(newest + 1))) - 1)
                  ELSE ((newest - 7) / 20 - (floor(exp(rw * ln((newest - 7) / 20 + 1))) - 1)) * 20 + 7
             END * 11 + 1)::bigint AS post_id,
            CASE WHEN ra < 0.5 THEN 'agent' ELSE 'human' END AS author_type,
            CASE WHEN ra < 0.5 THEN ($3::text[])[agent_n + 1] ELSE 'resident-' || user_n END AS author_key,
            CASE WHEN rm < 0.03 THEN ($3::text[])[((agent_n + 1 + floor(rm * 10000)::int) % cardinality($3::text[])) + 1] END
              AS mention,
            CASE WHEN rh < 0.003 THEN 'hidden' WHEN rh < 0.004 THEN 'removed' ELSE 'visible' END AS status,
            now() - interval '365 days' + i * (interval '365 days' / ($4::int * 11)) AS created_at
       FROM d`,
  ],
  [
    'reply counts',
    // Counted before the posts are written, so that each post is written once (no dead rows to vacuum).
    `CREATE TEMP TABLE seed_reply_count AS
       SELECT post_id, count(*) FILTER (WHERE status = 'visible')::int AS visible, max(created_at) AS last
         FROM seed_reply GROUP BY post_id`,
  ],
  [
    'posts',
    `INSERT INTO posts (id, author_type, author_id, author_name, audience, audience_agent_id, title, body, body_html,
                        tags, status, status_before_moderation, locked, mentions, mention_keys, moderation,
                        created_at, updated_at, last_activity_at, reply_count)
     SELECT s.id, s.author_type, coalesce(u.id::text, s.author_key), coalesce(u.display_name, initcap(s.author_key)),
            s.audience, s.audience_agent_id, t.title, b.body, '<p>' || b.body || '</p>', g.tags, s.status,
            CASE WHEN s.status = 'moderated' THEN 'open' END, s.locked,
            CASE WHEN s.mention IS NULL THEN '[]'::jsonb
                 ELSE jsonb_build_array(jsonb_build_object('type', 'agent', 'id', s.mention, 'handle', s.mention)) END,
            CASE WHEN s.mention IS NULL THEN '{}'::text[] ELSE ARRAY['agent:' || s.mention] END,
            CASE WHEN s.status = 'moderated' THEN jsonb_build_object('reason', 'spam', 'at', s.created_at) END,
            s.created_at, s.created_at, coalesce(c.last, s.created_at), coalesce(c.visible, 0)
       FROM seed_post s
       LEFT JOIN seed_reply_count c ON c.post_id = s.id
       LEFT JOIN users u ON s.author_type = 'human' AND u.handle = s.author_key
       CROSS JOIN LATERAL (
         SELECT initcap(string_agg(${WORD}, ' ')) AS title FROM generate_series(1, s.title_words) g) t
       CROSS JOIN LATERAL (
         -- One word in seven of the tail vocabulary (about 7 posts each) gives the rare-word search.
         SELECT string_agg(${WORD}, ' ')
                || CASE WHEN s.rt < 0.15 THEN ' ' || ($1::text[])[${COMMON_WORDS} + 1 + floor(s.rt / 0.15 * ${TAIL_WORDS})::int]
                   ELSE '' END
                || CASE WHEN s.mention IS NULL THEN '' ELSE ' @' || s.mention END AS body
           FROM generate_series(1, s.words) g) b
       CROSS JOIN LATERAL (
         SELECT coalesce(array_agg(DISTINCT ($5::text[])[1 + floor(exp(random() * ln(cardinality($5::text[]) + 1)) - 1 + 0 * g)::int]),
                         '{}') AS tags
           FROM generate_series(1, (s.j % 4)) g) g`,
  ],
  [
    'replies',
    `INSERT INTO replies (id, post_id, author_type, author_id, author_name, body, body_html, status, mentions, created_at)
     SELECT r.id, r.post_id, r.author_type, coalesce(u.id::text, r.author_key), coalesce(u.display_name, initcap(r.author_key)),
            t.body || CASE WHEN r.mention IS NULL THEN '' ELSE ' @' || r.mention END,
            '<p>' || t.body || CASE WHEN r.mention IS NULL THEN '' ELSE ' @' || r.mention END || '</p>', r.status,
            CASE WHEN r.mention IS NULL THEN '[]'::jsonb
                 ELSE jsonb_build_array(jsonb_build_object('type', 'agent', 'id', r.mention, 'handle', r.mention)) END,
            r.created_at
       FROM seed_reply r
       JOIN seed_reply_text t ON t.n = r.i % 5000
       LEFT JOIN users u ON r.author_type = 'human' AND u.handle = r.author_key
      ORDER BY r.id`,
  ],
  [
    'mail',
    // deliverMail's rule, item by item: the agent addressed, the agent whose thread got a reply, agents
    // mentioned who may read the post; never the writer; one row per agent with every reason.
    `INSERT INTO agent_mail (agent_id, item_id, post_id, reply_id, reasons)
     SELECT agent_id, item_id, post_id, reply_id, array_agg(DISTINCT reason ORDER BY reason)
       FROM (
         SELECT p.audience_agent_id AS agent_id, p.id AS item_id, p.id AS post_id, NULL::bigint AS reply_id,
                'addressed' AS reason
           FROM posts p WHERE p.audience = 'agent'
         UNION ALL
         SELECT s.mention, p.id, p.id, NULL, 'mention'
           FROM seed_post s JOIN posts p ON p.id = s.id
          WHERE s.mention IS NOT NULL AND p.status <> 'moderated' AND p.audience IN ('public', 'agents')
            AND NOT (p.author_type = 'agent' AND p.author_id = s.mention)
         UNION ALL
         SELECT a.agent_id, r.id, r.post_id, r.id, a.reason
           FROM seed_reply r JOIN posts p ON p.id = r.post_id
          CROSS JOIN LATERAL (VALUES (CASE WHEN p.audience = 'agent' THEN p.audience_agent_id END, 'reply'),
                                     (CASE WHEN p.author_type = 'agent' THEN p.author_id END, 'reply'),
                                     (CASE WHEN p.status <> 'moderated' AND p.audience IN ('public', 'agents')
                                                 OR (p.author_type = 'agent' AND p.author_id = r.mention)
                                           THEN r.mention END, 'mention')) a(agent_id, reason)
          WHERE a.agent_id IS NOT NULL AND NOT (r.author_type = 'agent' AND r.author_key = a.agent_id)
       ) m
      GROUP BY agent_id, item_id, post_id, reply_id`,
  ],
  [
    'mail cursors',
    // Agents that poll every second are nearly caught up: each has read all but its last 0-4 items.
    `UPDATE agents a SET mail_cursor = c.item_id
       FROM (SELECT agent_id, item_id, row_number() OVER (PARTITION BY agent_id ORDER BY item_id DESC) AS back
               FROM agent_mail) c
      WHERE c.agent_id = a.id AND c.back = 1 + (hashtext(a.id) & 2147483647) % 5`,
  ],
  ['sequence', `SELECT setval('board_item_seq', $4::int * 11)`],
  ['vacuum analyze', `VACUUM (ANALYZE) users, posts, replies, agent_mail, agents`],
  // So that the load's figures do not include the bulk load's writes still being flushed.
  ['checkpoint', `CHECKPOINT`],
];

/** Which numbered parameters each statement uses (pg refuses unused ones it cannot type). */
function parameters(sql: string, all: unknown[]): { text: string; values: unknown[] } {
  const used = [...new Set([...sql.matchAll(/\$(\d+)/g)].map((m) => Number(m[1])))].sort((a, b) => a - b);
  const text = sql.replace(/\$(\d+)/g, (_, n: string) => `$${used.indexOf(Number(n)) + 1}`);
  return { text, values: used.map((n) => all[n - 1]) };
}

export async function seedBoard(client: pg.Client, seed: BoardSeed, log: (line: string) => void): Promise<SeedReport> {
  if (seed.replies !== seed.posts * 10) throw new Error('the seed timeline needs exactly ten replies per post');
  const started = performance.now();
  // Bulk work on a session of its own: memory for sorts and hashes, no wait for each commit's flush.
  await client.query(`SET work_mem = '256MB'`);
  await client.query(`SET maintenance_work_mem = '512MB'`);
  await client.query(`SET synchronous_commit = off`);
  // Words whose stems collide (or are stop words) would blur the search figures: one word per stem.
  const { rows: vocab } = await client.query<{ words: string[] }>(
    `SELECT array_agg(word ORDER BY first) AS words FROM (
       SELECT min(ord) AS first, (array_agg(word ORDER BY ord))[1] AS word
         FROM unnest($1::text[]) WITH ORDINALITY AS v(word, ord)
        WHERE to_tsvector('english', word) <> ''::tsvector
        GROUP BY strip(to_tsvector('english', word))::text) w`,
    [vocabulary(COMMON_WORDS + TAIL_WORDS + 500)],
  );
  const words = vocab[0]!.words.slice(0, COMMON_WORDS + TAIL_WORDS);
  if (words.length < COMMON_WORDS + TAIL_WORDS) throw new Error('the vocabulary came out too small');
  const all = [words, seed.users, seed.agentIds, seed.posts, TAGS];
  const steps: Array<[string, number]> = [];
  for (const [name, sql] of STEPS) {
    const t0 = performance.now();
    await client.query(parameters(sql, all));
    const ms = performance.now() - t0;
    steps.push([name, ms]);
    log(`  seeded ${name} in ${(ms / 1000).toFixed(1)} s`);
  }
  const { rows } = await client.query<{ rows: number }>('SELECT count(*)::int AS rows FROM agent_mail');
  return {
    ms: performance.now() - started,
    steps,
    mailRows: rows[0]!.rows,
    vocabulary: { common: words.slice(0, COMMON_WORDS), tail: words.slice(COMMON_WORDS) },
  };
}

function mulberry32(seed: number) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
