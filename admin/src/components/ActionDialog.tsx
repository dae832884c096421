import {
  Button as MuiButton,
  Dialog,
  DialogActions,
  DialogContent,
  DialogTitle,
  MenuItem,
  TextField,
} from '@mui/material';
import { useState, type ReactElement } from 'react';
import { Button } from 'react-admin';
import type { z } from 'zod';
import { useAction } from '../use-action';
import { FieldError, validateWith } from '../validation';

export interface ActionField {
  name: string;
  label: string;
  /** A fixed list to choose from (a select), else free text. */
  choices?: { id: string; name: string }[];
  multiline?: boolean;
  initial?: string;
}

export interface ActionDialogProps<Body> {
  /** The button's label and the dialog's title. */
  label: string;
  title?: string;
  icon?: ReactElement;
  /** `data-testid` of the button; the dialog's fields and submit button get it as a prefix. */
  testId: string;
  fields?: ActionField[];
  /** The API's schema of the request: the form is checked with it before anything is sent. */
  schema: z.ZodType<Body>;
  toRequest: (values: Record<string, string>) => unknown;
  run: (body: Body) => Promise<unknown>;
  done: string;
  disabled?: boolean;
}

const REASON: ActionField = { name: 'reason', label: 'Reason (kept in the audit log)', multiline: true };

/**
 * A button that asks for what an action needs (always a reason), checks it with the API's schema,
 * and sends it; the server's refusal is shown as it comes.
 */
export function ActionDialog<Body>(props: ActionDialogProps<Body>) {
  const fields = props.fields ?? [REASON];
  const initial = () => Object.fromEntries(fields.map((field) => [field.name, field.initial ?? '']));
  const [open, setOpen] = useState(false);
  const [values, setValues] = useState<Record<string, string>>(initial);
  const [errors, setErrors] = useState<Record<string, unknown>>({});
  const { act, busy } = useAction(props.run, props.done);
  const validate = validateWith<Record<string, string>>(props.schema, fields[0]!.name, props.toRequest);

  const submit = async () => {
    const found = validate(values);
    setErrors(found);
    if (Object.keys(found).length > 0) return;
    let body: Body;
    try {
      body = props.schema.parse(props.toRequest(values));
    } catch (error) {
      if (error instanceof FieldError) return setErrors({ [error.field]: error.message });
      throw error;
    }
    if (await act(body)) setOpen(false);
  };

  return (
    <>
      <Button
        label={props.label}
        data-testid={props.testId}
        disabled={props.disabled}
        onClick={(event) => {
          event.stopPropagation();
          setValues(initial());
          setErrors({});
          setOpen(true);
        }}
      >
        {props.icon}
      </Button>
      <Dialog open={open} onClose={() => setOpen(false)} onClick={(event) => event.stopPropagation()} fullWidth>
        <DialogTitle>{props.title ?? props.label}</DialogTitle>
        <DialogContent>
          {fields.map((field) => (
            <TextField
              key={field.name}
              select={!!field.choices}
              label={field.label}
              value={values[field.name] ?? ''}
              onChange={(event) => setValues({ ...values, [field.name]: event.target.value })}
              error={!!errors[field.name]}
              helperText={errors[field.name] ? String(errors[field.name]) : ' '}
              multiline={field.multiline}
              minRows={field.multiline ? 2 : undefined}
              fullWidth
              margin="dense"
              slotProps={{ htmlInput: { 'data-testid': `${props.testId}-${field.name}` } }}
            >
              {field.choices?.map((choice) => (
                <MenuItem key={choice.id} value={choice.id}>
                  {choice.name}
                </MenuItem>
              ))}
            </TextField>
          ))}
        </DialogContent>
        <DialogActions>
          <MuiButton onClick={() => setOpen(false)}>Cancel</MuiButton>
          <MuiButton onClick={submit} disabled={busy} variant="contained" data-testid={`${props.testId}-submit`}>
            {props.label}
          </MuiButton>
        </DialogActions>
      </Dialog>
    </>
  );
}
