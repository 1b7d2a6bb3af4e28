import { Command } from 'commander'

export function demoCommand (): Command {
  return new Command('demo')
    .description('run the whole pipeline locally and print where to look')
    .action(() => {
      console.log('cellstream demo: the end-to-end demo arrives with the speed layer; for now see README.md (cellstream kafka start, cellstream db migrate)')
    })
}
