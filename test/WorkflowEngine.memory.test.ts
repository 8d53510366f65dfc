import { ExecutionStorage } from "../src/index.js"
import { engineSuite } from "./engineSuite.js"

engineSuite("memory", ExecutionStorage.layerMemory)
