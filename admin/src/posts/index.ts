import Forum from '@mui/icons-material/Forum';
import { PostList } from './PostList';
import { PostShow } from './PostShow';

export default { list: PostList, show: PostShow, icon: Forum, recordRepresentation: 'title' };
