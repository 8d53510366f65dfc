import { engineSuite } from "./engineSuite.js"
import { onDurableStorages } from "./pg.js"

onDurableStorages(engineSuite)
