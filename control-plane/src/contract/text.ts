import { z } from 'zod';

/** Text PostgreSQL can store: no NUL characters. */
export const text = () => z.string().refine((value) => !value.includes('\u0000'), 'must not contain NUL characters');
