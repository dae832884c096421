import SwapHoriz from '@mui/icons-material/SwapHoriz';
import { TransferCreate } from './TransferCreate';
import { TransferList } from './TransferList';
import { TransferShow } from './TransferShow';

export default { list: TransferList, show: TransferShow, create: TransferCreate, icon: SwapHoriz };
