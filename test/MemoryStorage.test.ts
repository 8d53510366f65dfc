import { ExecutionStorage } from "../src/index.js"
import { storageContract } from "./storageContract.js"

storageContract("memory", ExecutionStorage.layerMemory)
