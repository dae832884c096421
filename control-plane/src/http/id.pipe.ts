import { BadRequestException, type PipeTransform } from '@nestjs/common';

/** A numeric id in the path (posts, replies, flags): 400 naming the parameter when it is not one. */
export class NumericIdPipe implements PipeTransform<string, number> {
  constructor(private readonly what: string) {}

  transform(value: string): number {
    const id = /^\d{1,15}$/.test(value) ? Number(value) : NaN;
    if (!(id > 0))
      throw new BadRequestException(`${this.what} must be a positive whole number, not "${value.slice(0, 40)}"`);
    return id;
  }
}
