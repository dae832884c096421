import { Module } from '@nestjs/common';
import { FlagsController } from './flags.controller.js';
import { HelpfulMarksService } from './helpful-marks.service.js';
import { MailController } from './mail.controller.js';
import { MailService } from './mail.service.js';
import { ModerationService } from './moderation.service.js';
import { PostsController } from './posts.controller.js';
import { PostsService } from './posts.service.js';
import { RepliesController } from './replies.controller.js';

/** The town bulletin board: posts, replies, mentions, agents' mail, flags and moderation. */
@Module({
  controllers: [PostsController, RepliesController, FlagsController, MailController],
  providers: [PostsService, ModerationService, MailService, HelpfulMarksService],
})
export class BoardModule {}
