import { formatAiDollars, parseAiDollars } from '@ai-village/control-plane/contract';
import { FunctionField, type FunctionFieldProps } from 'react-admin';
import { FieldError } from './validation';

/** An amount in mills shown as aiDollars (the contract's one formatting rule). */
export function AiDollarsField({ source, ...props }: Omit<FunctionFieldProps, 'render'> & { source: string }) {
  return (
    <FunctionField
      source={source}
      textAlign="right"
      {...props}
      render={(record: Record<string, unknown>) => {
        const value = source
          .split('.')
          .reduce<unknown>((node, key) => (node as Record<string, unknown>)?.[key], record);
        return typeof value === 'number' ? `${formatAiDollars(value)} aiD` : '';
      }}
    />
  );
}

/** An aiDollars text from a form as whole mills, or a FieldError on `field` saying what is wrong. */
export function millsFrom(text: unknown, field: string): number {
  const parsed = parseAiDollars(String(text ?? ''));
  if ('error' in parsed) throw new FieldError(field, parsed.error);
  return parsed.mills;
}

/** Like `millsFrom`, for amounts that may be 0 (a threshold, a free model's price). */
export function millsOrZeroFrom(text: unknown, field: string): number {
  return String(text ?? '').trim() === '0' ? 0 : millsFrom(text, field);
}
