import { onDurableStorages } from "./pg.js"
import { storageContract } from "./storageContract.js"

onDurableStorages(storageContract)
